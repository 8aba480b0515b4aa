//! Octave-stop registrations (AUDIO THREAD): the played key of an organ sound whose lowest stop
//! sounds an octave below it.
//!
//! A drawbar or pipe organ registration of 16' + 8' (+ 4' + 2') stops sounds, for the key of
//! pitch `k`, near-sinusoidal partials at `k/2`, `k`, `2k` and `4k` (and often the 5⅓' quint at
//! `3k/2`). The waveform repeats at the 16' period and the 16' is often the loudest partial, so
//! every period detector (and the ear, asked for "the lowest tone") names `k/2`. By organ
//! convention the key played — the written note — is the 8' pitch `k`.
//!
//! Evidence, as harmonics `h` of the detected pitch `f` (= `k/2`): the octave partials 2, 4 and 8
//! are all strong, while the partials between the 4th and the 8th (5, 6, 7) lie far below both
//! of them. Natural tones (strings, winds, voices, struck and plucked sounds) fall off smoothly,
//! so their 5th to 7th partials lie between their 4th and 8th; a sound with only the octave
//! partials is built of stops an octave apart. The 3rd harmonic is not looked at: a quint
//! mutation (5⅓') often sounds with the 16'. Then the played key is `2f`.
//!
//! On the dev renders' written notes (a numpy scan of the 2048-point Hann spectrum 120 ms after
//! each onset) the defaults fire on 94 % of the TimGM6mb Drawbar Organ notes at their 16' pitch
//! and on none of the 13 975 notes of the other programs at their written pitch. FluidR3_GM's
//! and MuseScore_General's Drawbar Organ also sound a component two octaves below the key (a
//! 32'-like one, the period the detector finds): only 30 % of their notes show the evidence
//! at the 16' pitch, and this guard does not lift the 32' answer (see
//! `docs/transcription-journal.md`). The thresholds were chosen on dev: a valley of 10 dB and a 2nd
//! harmonic of −10 dB lifted the GM 88 (New Age) pad too (4 dev renders −0.03 to −0.13 F1); 25 dB
//! and −6 dB leave it alone.
//!
//! *Quint evidence* (a stop under the 16'). FluidR3_GM's and MuseScore_General's Drawbar
//! Organ (one sample) sound, for the key `k`, sines at `k/4` (0 dB), `k/2` (16', 0 dB), `k`
//! (8', −5), `3k/2` (the 5⅓' quint, −16), `2k` (4', −10) and `4k` (2', −17): every partial
//! is a harmonic of `k/4`, and the answer was `k/4` or, lifted once, the 16' `k/2` (F1 0.000
//! on all four dev renders). At a 16' candidate `s` the registration shows as a strong 2nd
//! and 4th harmonic (8' and 4'), a 3rd harmonic (the quint) standing out of an empty 5th to
//! 7th, and a stop at `s/2` (read from the spectrum; or, at `s = 2f` for a detected `f`,
//! known because `f`'s own odd harmonics 3, 5 and 7 are absent: `f` is a lone sine rank).
//! The key is then `2s`. TimGM6mb's Drawbar Organ (16' + 8' + 4' + 2' + 1', no quint) has
//! no 3rd harmonic at its key, so its key stays where the rules above put it; a natural
//! tone has no stop an octave under its fundamental and no empty 5th–7th harmonics.
//!
//! A church organ *plenum* over a loud 16' (TimGM6mb's Church Organ upper keys) adds the 2⅔'
//! quint and mixture ranks: they fill the 5th–7th harmonics of the 16' pitch, so there is no
//! valley. But they, like the 8', 4' and 2', are all harmonics of the 8' key, i.e. *even*
//! harmonics of the 16' pitch; only the 16' stop's own overtones are odd ones. The mixture
//! evidence: the octave partials as above, the even harmonics (2 to 16) together at least as
//! loud as the 1st, the 2nd not much louder than the 1st, and the odd ones (3 to 15) together
//! far under the even ones. On the dev renders' written notes it fires at the written pitch of
//! 5 of 13 975 non-organ notes (GM 88 pads) and at the 16' pitch of 92 % of the TimGM6mb
//! Church Organ notes of a focused set.
//!
//! The valley is only seen once the long frame holds the note alone: right after an attack it
//! is filled by the previous note and by the leakage of a partly filled window, and the tracker
//! commits the 16' pitch within a few milliseconds. A registration lasts, so the stage keeps a
//! running share of the clear, confident hops that showed it; while that share is high, an
//! estimate is lifted on the weaker evidence alone (a strong 2nd harmonic, a 3rd harmonic well
//! under the 1st, and no stop below: neither a partial as loud as the 1st at `f/2`, nor one
//! within 20 dB that peaks there — a smeared attack falls off towards `f/2`, a soft 16' stop
//! under an 8' key peaks).

/// Fixed settings (dB are amplitude ratios to the detected pitch's own partial, `20·log10`).
#[derive(Debug, Clone, Copy)]
pub struct OctaveStopsConfig {
    /// Sample rate (Hz).
    pub sample_rate: f32,
    /// Frame length of the Hann spectrum: bin `b` is at `b · sample_rate / frame_len` Hz.
    pub frame_len: usize,
    /// The 2nd harmonic (the 8' stop) must be at least this loud against the 1st.
    pub second_db: f32,
    /// The 4th and the 8th harmonics (4' and 2') must both be at least this loud against the 1st.
    pub octaves_db: f32,
    /// The loudest of the 5th, 6th and 7th harmonics must lie at least this far (dB, positive)
    /// below the weaker of the 4th and the 8th.
    pub valley_db: f32,
    /// Mixture evidence: the even harmonics of `f` (the key's own series, 2 to 16) together
    /// must be at least this loud (dB of power) against the 1st.
    pub even_db: f32,
    /// Mixture evidence: the odd harmonics of `f` above the 1st (3 to 15; only the sub-octave
    /// stop's own overtones) together must lie at least this far (dB of power, positive)
    /// under the even ones. `0` turns the mixture evidence off.
    pub odd_gap_db: f32,
    /// Mixture evidence: the 2nd harmonic (the 8' key) at most this loud against the 1st (dB):
    /// the sub-octave stop about as loud as the 8' or louder, which is why the period is its
    /// own (on a dev tuning set 0 dB left 25 octave-low TimGM6mb Church Organ misses, 3 dB
    /// 14; pads and ensembles that showed the evidence now and then had their 2nd harmonic
    /// 3–9 dB over the 1st).
    pub mixture_second_db: f32,
    /// Where it can be read apart from `f`, the spectrum at `f/2` must lie this far (dB,
    /// positive) below the 1st harmonic for the full evidence (and below it at all for the weak
    /// one): a pitch with a stop an octave below it already is the played key (an 8' answer of
    /// a 16' + 8' + 4' + 2' sound looks the same one octave up).
    pub below_db: f32,
    /// A stop an octave below is also heard (no lift at all) when the spectrum at `f/2` lies
    /// less than `below_db` under the 1st harmonic and is a peak: this many times the
    /// spectrum at `3f/4` (the main lobe of `f` smeared by an attack falls off towards `f/2`
    /// instead). `0` turns the test off.
    pub below_peak: f32,
    /// The weak evidence also wants the 3rd harmonic at most this loud against the 1st (dB):
    /// at a sub-octave stop's pitch the 3rd harmonic is only that stop's own overtone (or a
    /// 5⅓' quint), softer than it; a key whose 3rd harmonic is as loud as its 1st is not a
    /// sub-octave stop (a principal chorus's 8' key). Positive values turn the test off.
    pub third_db: f32,
    /// Weight of each confident hop in the running share of hops that showed the registration
    /// (hop length / time constant).
    pub rate: f32,
    /// Hops count in that share only at this pitch confidence or more.
    pub min_confidence: f32,
    /// While the share is at least this, the valley and octave tests are waived.
    pub share_on: f32,
    /// Quint evidence: a stop read at `s/2` under a 16' candidate `s` must be at least this
    /// loud against `s` (dB). It exists because FluidR3_GM's and MuseScore_General's Drawbar
    /// Organ sound a stop an octave under their 16' (0 dB against it), and the 16' with a stop
    /// below was taken for the key; it guards against reading an attack's smear as that stop.
    pub quint_below_db: f32,
    /// Quint evidence: the 3rd harmonic of `s` (the 5⅓' quint, a fifth above the key `2s`)
    /// at least this loud against `s` (dB): a 16' + 8' registration with no quint (TimGM6mb's
    /// Drawbar Organ, a 3rd harmonic of the key under −50 dB) keeps its key at `s`.
    pub quint_third_db: f32,
    /// Quint evidence: how far (dB, positive) the 5th to 7th harmonics of `s` must lie under
    /// both its 3rd and its 4th — the gap between a registration's sine ranks that a natural
    /// tone (falling off smoothly) and a plenum (quint and mixture ranks there) do not show.
    /// `0` turns the quint evidence off.
    pub quint_rise_db: f32,
    /// Off (`false`): [`OctaveStops::played_hz`] returns its input.
    pub enabled: bool,
}

impl OctaveStopsConfig {
    /// Defaults (chosen on the dev renders' spectra; see the module notes), overridable through
    /// `tuning`: `octave_stops` (0 = off), `octave_stops_second_db`, `octave_stops_octaves_db`,
    /// `octave_stops_valley_db`, `octave_stops_even_db`, `octave_stops_odd_gap_db` (0 = no
    /// mixture evidence), `octave_stops_mixture_second_db`, `octave_stops_below_db`, `octave_stops_below_peak` (0 = off),
    /// `octave_stops_third_db` (> 0 = off), `octave_stops_s` (time constant of
    /// the share), `octave_stops_confidence`, `octave_stops_share`,
    /// `octave_stops_quint_below_db`, `octave_stops_quint_third_db`,
    /// `octave_stops_quint_rise_db` (0 = no quint evidence).
    pub fn new(sample_rate: f32, frame_len: usize, hop: usize, tuning: &super::Tuning) -> Self {
        let hop_s = hop as f32 / sample_rate.max(1.0);
        Self {
            sample_rate,
            frame_len,
            second_db: tuning.get("octave_stops_second_db", -6.0),
            octaves_db: tuning.get("octave_stops_octaves_db", -20.0),
            valley_db: tuning.get("octave_stops_valley_db", 25.0),
            even_db: tuning.get("octave_stops_even_db", 0.0),
            odd_gap_db: tuning.get("octave_stops_odd_gap_db", 15.0),
            mixture_second_db: tuning.get("octave_stops_mixture_second_db", 3.0),
            below_db: tuning.get("octave_stops_below_db", 20.0),
            below_peak: tuning.get("octave_stops_below_peak", 2.0),
            third_db: tuning.get("octave_stops_third_db", -6.0),
            rate: (hop_s / tuning.get("octave_stops_s", 0.3).max(hop_s)).min(1.0),
            min_confidence: tuning.get("octave_stops_confidence", 0.9),
            share_on: tuning.get("octave_stops_share", 0.5),
            quint_below_db: tuning.get("octave_stops_quint_below_db", -6.0),
            quint_third_db: tuning.get("octave_stops_quint_third_db", -24.0),
            quint_rise_db: tuning.get("octave_stops_quint_rise_db", 10.0),
            enabled: tuning.get("octave_stops", 1.0) > 0.5,
        }
    }
}

/// The octave-stop decision, with the running share of hops that showed the registration.
/// No allocation.
#[derive(Debug, Clone, Copy)]
pub struct OctaveStops {
    /// Settings, fixed at construction.
    config: OctaveStopsConfig,
    /// Width of a spectrum bin (Hz).
    bin_hz: f32,
    /// Leaky mean (0..1) over confident hops of "the spectrum showed an octave-stop
    /// registration": the sound's registration, remembered across attacks.
    share: f32,
}

impl OctaveStops {
    pub fn new(config: OctaveStopsConfig) -> Self {
        Self {
            config,
            bin_hz: config.sample_rate / config.frame_len.max(1) as f32,
            share: 0.0,
        }
    }

    /// The running share of confident hops that showed the registration (0..1).
    pub fn share(&self) -> f32 {
        self.share
    }

    /// Forgets the registration.
    pub fn reset(&mut self) {
        self.share = 0.0;
    }

    /// The played key for a detected pitch `hz` of pitch confidence `confidence` given the Hann
    /// magnitudes `mags` (bin 0 first): `2·hz` when the spectrum is an octave-stop registration
    /// whose lowest stop is at `hz` (or the registration was heard lately and the 2nd harmonic
    /// is strong with no stop below), else `hz`. Any partial outside `mags` (or `hz` ≤ 0, NaN)
    /// leaves `hz` as it is. Once per hop (it updates the share).
    pub fn played_hz(&mut self, mags: &[f32], hz: f32, confidence: f32) -> f32 {
        if !self.config.enabled || hz.is_nan() || hz <= 0.0 || self.bin_hz <= 0.0 {
            return hz;
        }
        let (lift, clear) = self.evidence(mags, hz);
        if clear && confidence >= self.config.min_confidence {
            let shown = match lift {
                Evidence::Full | Evidence::Mixture => 1.0,
                Evidence::Weak | Evidence::None => 0.0,
            };
            self.share += self.config.rate * (shown - self.share);
        }
        let lifted = match lift {
            Evidence::Full | Evidence::Mixture => true,
            Evidence::Weak => self.share >= self.config.share_on,
            Evidence::None => false,
        };
        let played = if lifted { 2.0 * hz } else { hz };
        // A 16' stop with its 5⅓' quint over a lower stop (a lone sine rank: its own odd
        // harmonics absent): the key is an octave above the 16' — read with the stop below
        // at `played` (a lifted or a 16' answer), or at `2·hz` when `hz` is that lower stop
        // itself. The second reading does not ask what the evidence at `hz` said: on a key
        // low enough that `hz/2` lies under three bins (C4 and below at 48 kHz), the lone
        // stop at `hz` often shows the mixture evidence or, once the registration was heard,
        // the weak one, and the lift made of it (to the 16') is one octave short.
        if self.quint(mags, played, true) && self.odd_harmonics_absent(mags, played / 2.0) {
            2.0 * played
        } else if self.odd_harmonics_absent(mags, hz) && self.quint(mags, 2.0 * hz, false) {
            4.0 * hz
        } else {
            played
        }
    }

    /// Whether the odd harmonics 3, 5 and 7 of `hz` (centre bins: at a low `hz` the ±1-bin
    /// peak takes in the main lobes of the even neighbours) all lie `odd_gap_db` under its
    /// 2nd: `hz` is a lone near-sinusoidal stop under a series an octave up, not a natural
    /// tone (whose odd and even harmonics fall off together).
    fn odd_harmonics_absent(&self, mags: &[f32], hz: f32) -> bool {
        if self.config.odd_gap_db <= 0.0 {
            return false;
        }
        let at = |f: f32| mags.get((f / self.bin_hz).round() as usize).copied();
        let (Some(second), Some(third), Some(fifth), Some(seventh)) =
            (at(2.0 * hz), at(3.0 * hz), at(5.0 * hz), at(7.0 * hz))
        else {
            return false;
        };
        let gap = 10f32.powf(-self.config.odd_gap_db / 20.0);
        second > 0.0 && third.max(fifth).max(seventh) <= gap * second
    }

    /// Quint evidence at a pitch `s`: `s` is a 16' stop with its 5⅓' quint (the 3rd harmonic
    /// of `s`, a fifth above the key `2s`) under the 8' and 4' (2nd and 4th harmonics), and a
    /// lower stop sounds at `s/2`. With `read_below` that stop is read from the spectrum (a
    /// peak at least `quint_below_db` against `s` and `below_peak` times the spectrum at
    /// `3s/4`); without, the caller knows it. The 5th to 7th harmonics of `s` (not stops of
    /// the registration) lie `quint_rise_db` under both the quint and the 4th.
    fn quint(&self, mags: &[f32], s: f32, read_below: bool) -> bool {
        // A non-finite `s` would index at `usize::MAX` below (`b + 1` overflows in debug).
        if self.config.quint_rise_db <= 0.0
            || !s.is_finite()
            || (read_below && s / 2.0 < 3.0 * self.bin_hz)
        {
            return false;
        }
        let peak = |f: f32| peak_near(mags, self.bin_hz, f);
        let mut partial = [0.0f32; 7];
        for (h, slot) in partial.iter_mut().enumerate() {
            match peak(s * (h + 1) as f32) {
                Some(m) => *slot = m,
                None => return false,
            }
        }
        let first = partial[0];
        if first.is_nan() || first <= 0.0 {
            return false;
        }
        let db = |a: f32| 20.0 * (a.max(1e-12) / first).log10();
        if read_below {
            let sub = peak(s / 2.0).unwrap_or(0.0);
            let between = mags
                .get((0.75 * s / self.bin_hz).round() as usize)
                .copied()
                .unwrap_or(f32::INFINITY);
            if db(sub) < self.config.quint_below_db || sub <= self.config.below_peak * between {
                return false;
            }
        }
        let third = db(partial[2]);
        let fourth = db(partial[3]);
        let valley = db(partial[4]).max(db(partial[5])).max(db(partial[6]));
        db(partial[1]) >= self.config.second_db
            && fourth >= self.config.octaves_db
            && third >= self.config.quint_third_db
            && valley <= third.min(fourth) - self.config.quint_rise_db
    }

    /// How strongly the spectrum says `hz` is the lowest stop of an octave-stop registration,
    /// and whether all the partials looked at lie in `mags` (`clear`).
    fn evidence(&self, mags: &[f32], hz: f32) -> (Evidence, bool) {
        let peak = |f: f32| peak_near(mags, self.bin_hz, f);
        // Harmonics 1 to 16 of `hz` as far as the spectrum reaches; the first 8 are needed.
        let mut partial = [0.0f32; 16];
        let mut count = 0;
        for (h, slot) in partial.iter_mut().enumerate() {
            match peak(hz * (h + 1) as f32) {
                Some(m) => {
                    *slot = m;
                    count = h + 1;
                }
                None => break,
            }
        }
        if count < 8 {
            return (Evidence::None, false);
        }
        let first = partial[0];
        if first.is_nan() || first <= 0.0 {
            return (Evidence::None, false);
        }
        let db = |a: f32| 20.0 * (a.max(1e-12) / first).log10();
        if db(partial[1]) < self.config.second_db {
            return (Evidence::None, true);
        }
        // A stop an octave below? Only read where `hz/2` lies 3 bins or more from `hz` (closer,
        // the 1st harmonic's own main lobe fills it). The weak evidence only asks that it be
        // weaker than the 1st harmonic: right after an attack a partly filled window smears
        // the 1st harmonic down to `hz/2`, while a 16' stop under an 8' answer is louder.
        // A stop below that is a peak of its own (louder than the spectrum at `3f/4`, where a
        // smeared 1st harmonic would be louder still) is a stop even under the 1st harmonic:
        // the played key is `hz` (a church organ's 16' under its 8' key, whose 8' fundamental
        // is weaker than its own 2nd harmonic).
        let (below, peaked) = if hz / 2.0 >= 3.0 * self.bin_hz {
            let at = |f: f32| mags.get((f / self.bin_hz).round() as usize).copied();
            let sub = at(hz / 2.0).unwrap_or(0.0);
            let between = at(0.75 * hz).unwrap_or(f32::INFINITY);
            (
                db(sub),
                self.config.below_peak > 0.0 && sub > self.config.below_peak * between,
            )
        } else {
            (f32::NEG_INFINITY, false)
        };
        if below >= 0.0 || (peaked && below > -self.config.below_db) {
            return (Evidence::None, true);
        }
        let octaves = db(partial[3]).min(db(partial[7]));
        let valley = db(partial[4]).max(db(partial[5])).max(db(partial[6]));
        let clean = below <= -self.config.below_db && octaves >= self.config.octaves_db;
        if clean && valley <= octaves - self.config.valley_db {
            (Evidence::Full, true)
        } else if clean
            && db(partial[1]) <= self.config.mixture_second_db
            && self.mixture(&partial[..count], first)
        {
            (Evidence::Mixture, true)
        } else if self.config.third_db > 0.0 || db(partial[2]) <= self.config.third_db {
            (Evidence::Weak, true)
        } else {
            (Evidence::None, true)
        }
    }

    /// Mixture evidence on the harmonics `partial` (1st first) of a pitch: the even harmonics
    /// (the key's series: 8', 4', 2', the 2⅔' quint and the mixture ranks are all harmonics of
    /// the 8') carry together at least `even_db` against the 1st, and the odd ones above the
    /// 1st (which only the sub-octave stop's own overtones can fill) lie `odd_gap_db` under
    /// them. A natural tone's odd and even harmonics fall off together.
    fn mixture(&self, partial: &[f32], first: f32) -> bool {
        if self.config.odd_gap_db <= 0.0 {
            return false;
        }
        let (mut even, mut odd) = (0.0f32, 0.0f32);
        for (h, &m) in partial.iter().enumerate().skip(1) {
            if h % 2 == 1 {
                even += m * m;
            } else {
                odd += m * m;
            }
        }
        let power = |db: f32| 10f32.powf(db / 10.0);
        even >= first * first * power(self.config.even_db)
            && odd <= even * power(-self.config.odd_gap_db)
    }
}

/// What the spectrum says about an octave-stop registration at a pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// Octave partials strong, the partials between them far below: the registration.
    Full,
    /// Octave partials strong, the 2nd harmonic not louder than the 1st, and the odd
    /// harmonics above the 1st far below the even ones: a sub-octave stop under a plenum
    /// (quint and mixture ranks fill the valley). Counts in the share like `Full`.
    Mixture,
    /// A strong 2nd harmonic and no stop below, but not the valley (an attack, a mixture).
    Weak,
    /// Not a registration whose lowest stop is at the pitch.
    None,
}

/// Peak magnitude within a bin of frequency `f` (`None` outside the spectrum or at bin 0).
fn peak_near(mags: &[f32], bin_hz: f32, f: f32) -> Option<f32> {
    let b = (f / bin_hz).round() as usize;
    if b == 0 {
        return None;
    }
    mags.get(b - 1..=b.saturating_add(1))
        .map(|s| s.iter().fold(0.0f32, |a, &x| a.max(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;
    const N: usize = 2048;

    /// A Hann-like magnitude spectrum with a peak of `amp` (dB) at each `(hz, db)` partial:
    /// the centre bin and half of it on the two neighbours.
    fn spectrum(partials: &[(f32, f32)]) -> Vec<f32> {
        let bin_hz = SR / N as f32;
        let mut mags = vec![1e-6f32; N / 2 + 1];
        for &(hz, db) in partials {
            let a = 10f32.powf(db / 20.0);
            let b = (hz / bin_hz).round() as usize;
            for (i, w) in [(b - 1, 0.5), (b, 1.0), (b + 1, 0.5)] {
                mags[i] = mags[i].max(a * w);
            }
        }
        mags
    }

    fn stops() -> OctaveStops {
        OctaveStops::new(OctaveStopsConfig::new(
            SR,
            N,
            N / 16,
            &crate::analysis::Tuning::default(),
        ))
    }

    #[test]
    fn a_sixteen_foot_registration_is_lifted_to_its_eight_foot_key() {
        for f in [65.0f32, 110.0, 220.0, 440.0] {
            let mags = spectrum(&[
                (f, 0.0),
                (2.0 * f, -4.0),
                (3.0 * f, -15.0),
                (4.0 * f, -10.0),
                (8.0 * f, -17.0),
            ]);
            assert_eq!(stops().played_hz(&mags, f, 1.0), 2.0 * f, "{f} Hz");
        }
    }

    #[test]
    fn natural_tones_stay_where_they_are() {
        let f = 220.0f32;
        // A sawtooth (1/h), a tone falling 3 dB per harmonic, a sine, a sine with a strong 2nd.
        let saw: Vec<(f32, f32)> = (1..=10)
            .map(|h| (h as f32 * f, -20.0 * (h as f32).log10()))
            .collect();
        let falling: Vec<(f32, f32)> = (1..=10)
            .map(|h| (h as f32 * f, -3.0 * (h - 1) as f32))
            .collect();
        for partials in [
            saw,
            falling,
            vec![(f, 0.0)],
            vec![(f, 0.0), (2.0 * f, -3.0)],
        ] {
            let mags = spectrum(&partials);
            assert_eq!(stops().played_hz(&mags, f, 1.0), f, "{partials:?}");
        }
    }

    #[test]
    fn the_eight_foot_answer_of_a_sixteen_foot_sound_is_not_lifted_again() {
        // 16' + 8' + 4' + 2' + 1': at the 8' pitch the octave partials look the same, but a stop
        // sounds an octave below.
        let k = 440.0f32;
        let mags = spectrum(&[
            (k / 2.0, 0.0),
            (k, -2.0),
            (2.0 * k, -6.0),
            (4.0 * k, -10.0),
            (8.0 * k, -14.0),
        ]);
        assert_eq!(stops().played_hz(&mags, k, 1.0), k);
        assert_eq!(stops().played_hz(&mags, k / 2.0, 1.0), k);
    }

    #[test]
    fn a_registration_heard_lately_lifts_the_attacks_too() {
        let f = 220.0f32;
        let full = spectrum(&[
            (f, 0.0),
            (2.0 * f, -4.0),
            (4.0 * f, -10.0),
            (8.0 * f, -17.0),
        ]);
        // An attack: the valley filled (leakage, the previous note), the 8' strong.
        let attack = spectrum(&[
            (f, 0.0),
            (2.0 * f, -4.0),
            (4.0 * f, -10.0),
            (5.0 * f, -14.0),
            (6.0 * f, -16.0),
            (8.0 * f, -17.0),
        ]);
        let mut fresh = stops();
        assert_eq!(fresh.played_hz(&attack, f, 1.0), f, "nothing heard yet");
        let mut heard = stops();
        for _ in 0..400 {
            assert_eq!(heard.played_hz(&full, f, 1.0), 2.0 * f);
        }
        assert!(heard.share() > 0.9, "{}", heard.share());
        assert_eq!(heard.played_hz(&attack, f, 0.6), 2.0 * f);
        // Unsure hops do not count; clear hops of another sound wear the memory off.
        let saw: Vec<(f32, f32)> = (1..=10)
            .map(|h| (h as f32 * f, -20.0 * (h as f32).log10()))
            .collect();
        let saw = spectrum(&saw);
        for _ in 0..200 {
            heard.played_hz(&saw, f, 0.5);
        }
        assert!(heard.share() > 0.9, "{}", heard.share());
        for _ in 0..600 {
            heard.played_hz(&saw, f, 1.0);
        }
        assert_eq!(heard.played_hz(&saw, f, 1.0), f);
        assert!(heard.share() < 0.1, "{}", heard.share());
        assert_eq!(heard.played_hz(&attack, f, 1.0), f);
        heard.reset();
        assert_eq!(heard.share(), 0.0);
    }

    /// A plenum over a loud 16' at the 16' pitch `f`: 16', its own 3rd partial, then 8', 4',
    /// 2⅔' quint, 2', 1⅗' tierce, 1⅓', 1' (the quint and tierce fill the 5th–7th harmonics).
    fn plenum(f: f32) -> Vec<(f32, f32)> {
        vec![
            (f, 0.0),
            (2.0 * f, -3.0),
            (3.0 * f, -17.0),
            (4.0 * f, -5.0),
            (6.0 * f, -9.0),
            (8.0 * f, 1.0),
            (10.0 * f, -15.0),
            (12.0 * f, -9.0),
            (16.0 * f, -11.0),
        ]
    }

    #[test]
    fn a_plenum_over_a_loud_sixteen_foot_is_lifted_to_its_key() {
        for f in [110.0f32, 180.0, 260.0] {
            let mags = spectrum(&plenum(f));
            assert_eq!(stops().played_hz(&mags, f, 1.0), 2.0 * f, "{f} Hz");
            // Without the mixture evidence (the valley test alone) it stays at the 16' pitch.
            let mut valley_only = OctaveStops::new(OctaveStopsConfig::new(
                SR,
                N,
                N / 16,
                &crate::analysis::Tuning::default().with("octave_stops_odd_gap_db", 0.0),
            ));
            assert_eq!(valley_only.played_hz(&mags, f, 1.0), f, "{f} Hz");
        }
    }

    #[test]
    fn tones_with_loud_odd_harmonics_or_a_louder_second_stay() {
        let f = 220.0f32;
        // The plenum's 16' own 3rd partial as loud as the 8': not a lone sub-octave stop.
        let mut odd = plenum(f);
        odd[2].1 = -3.0;
        // A pad whose 2nd harmonic is well over its 1st (seen on dev GM 48/88 renders).
        let mut bright = plenum(f);
        bright[1].1 = 6.0;
        for partials in [odd, bright] {
            let mags = spectrum(&partials);
            assert_eq!(stops().played_hz(&mags, f, 1.0), f, "{partials:?}");
        }
    }

    #[test]
    fn a_key_over_a_stop_peaking_an_octave_below_is_not_lifted_by_the_memory() {
        let f = 220.0f32;
        let mut heard = stops();
        let full = spectrum(&[
            (f, 0.0),
            (2.0 * f, -4.0),
            (4.0 * f, -10.0),
            (8.0 * f, -17.0),
        ]);
        for _ in 0..400 {
            heard.played_hz(&full, f, 1.0);
        }
        assert!(heard.share() > 0.9);
        // A principal chorus key at `f` over a soft 16' (8 dB under, a peak of its own): its
        // 2nd harmonic is strong, but the stop below says `f` is the key.
        let chorus = spectrum(&[
            (f / 2.0, -8.0),
            (f, 0.0),
            (2.0 * f, 8.0),
            (3.0 * f, 3.0),
            (4.0 * f, 8.0),
        ]);
        assert_eq!(heard.played_hz(&chorus, f, 0.6), f);
        // Without the stop below, its loud 3rd harmonic says the same.
        let bare = spectrum(&[(f, 0.0), (2.0 * f, 8.0), (3.0 * f, 3.0), (4.0 * f, 8.0)]);
        assert_eq!(heard.played_hz(&bare, f, 0.6), f);
        // A key with neither is lifted by the memory (an attack of the registration).
        let attack = spectrum(&[
            (f, 0.0),
            (2.0 * f, -4.0),
            (4.0 * f, -10.0),
            (5.0 * f, -14.0),
        ]);
        assert_eq!(heard.played_hz(&attack, f, 0.6), 2.0 * f);
    }

    #[test]
    fn odd_input_is_left_alone() {
        let mags = spectrum(&[(220.0, 0.0), (440.0, -4.0), (880.0, -10.0), (1760.0, -17.0)]);
        for hz in [0.0, -5.0, f32::NAN, 20_000.0] {
            let out = stops().played_hz(&mags, hz, 1.0);
            assert!(out == hz || (out.is_nan() && hz.is_nan()), "{hz} -> {out}");
        }
        assert_eq!(stops().played_hz(&[], 220.0, 1.0), 220.0);
        let mut off = OctaveStops::new(OctaveStopsConfig::new(
            SR,
            N,
            N / 16,
            &crate::analysis::Tuning::default().with("octave_stops", 0.0),
        ));
        assert_eq!(off.played_hz(&mags, 220.0, 1.0), 220.0);
    }
}
