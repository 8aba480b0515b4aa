//! Top voice (AUDIO THREAD): the highest note of a chord, so that the tracker can follow the
//! melody on top of a keyboard's or an ensemble's chords instead of falling silent.
//!
//! The pitch stage names the loudest periodicity of a mixture: a chord's bass, one of its
//! middle notes or a common subharmonic. The highest voice is harder still: every lower note's
//! upper partials sit where higher notes would be (the bass's third partial is a twelfth above
//! it), so "the highest salient pitch" is mostly a partial of something lower.
//!
//! Per search hop, on the Hann magnitudes of the long frame, every candidate semitone from
//! [`LOWEST`] gets a few measures: its first partials' peak magnitudes, its harmonic salience
//! against the frame's strongest, its salience against the notes an octave, a twelfth, two
//! octaves and a major seventeenth below (is it their partial?) and above (is it their
//! subharmonic?), against its neighbours, and how many salient peaks lie above it. A small
//! network scores each candidate with the same weights, and a softmax over the candidates says
//! which one is the top voice and how sure it is. The weights are fitted by `continuo
//! fit-top-voice` on four-part chorale renders, labelled with the soprano (`cli/top_voice_fit.rs`).
//!
//! [`TopFollower`] turns those answers into notes while the polyphony stage's *chords* decision
//! holds (the tracker's own paths are silent then): a new top note starts when the same
//! candidate wins, surely enough, on a few search hops in a row; it ends when another takes
//! over, when the answers stay unsure, when the input falls quiet, or when the chords end.

use crate::music::midi_to_hz;

/// Lowest candidate (MIDI note; E2).
pub const LOWEST: u8 = 40;
/// Candidates: E2 to F♯6.
pub const CANDIDATES: usize = 51;
/// Partials measured per candidate.
pub const PARTIALS: usize = 8;
/// Measures per candidate (the network's inputs).
pub const FEATURES: usize = 26;
/// Hidden units of the candidate network.
pub const HIDDEN: usize = 16;
/// Partial weight decay in the harmonic salience (`Σ DECAY^h · a_h`).
const DECAY: f32 = 0.8;
/// A candidate counts as a salient peak (for the "peaks above" measure) from this share of the
/// strongest salience.
const PEAK_SHARE: f32 = 0.3;
/// Offsets of the intervals below (partial of a lower note) and above (subharmonic of a
/// higher note) whose salience ratio is measured.
const BELOW: [usize; 4] = [12, 19, 24, 28];
const ABOVE: [usize; 2] = [12, 19];
/// Neighbour offsets (semitones, signed) whose salience ratio is measured.
const NEIGHBOURS: [isize; 4] = [1, -1, 7, 5];
/// Only candidates whose harmonic salience reaches this share of the strongest, and that of
/// both semitone neighbours, are measured and scored (the others cannot be a chord's top note,
/// and scoring all 51 cost a sixth of the analyser).
pub const MIN_SHARE: f32 = 0.1;
/// Half-integer multiples of the candidate's frequency whose peaks are measured: where the
/// odd partials of the note an octave below would be (is the candidate only its second?).
const HALVES: [f32; 3] = [0.5, 1.5, 2.5];

/// A cheap tanh (a Padé approximant, exact at 0 and saturating at ±3; the fitter uses it
/// too, so the network is fitted through the function it runs with).
pub fn squash(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    let x2 = x * x;
    x * (27.0 + x2) / (27.0 + 9.0 * x2)
}

/// A cheap log10 for positive finite `x` (a fourth-order fit of log2 on the mantissa, within
/// 1e-4 of `f32::log10`): the measures take some twenty per candidate, which `f32::log10`
/// made the stage's largest cost. Anything else gives a large negative number, never NaN.
pub fn log10(x: f32) -> f32 {
    if x.is_nan() || x <= 0.0 || !x.is_finite() {
        return -30.0;
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let log2_m = -2.496_781_8
        + (4.028_392_3 + (-2.081_077_3 + (0.628_822_17 - 0.079_151_234 * m) * m) * m) * m;
    (exponent as f32 + log2_m) * std::f32::consts::LOG10_2
}

/// One candidate's measures.
pub type Features = [f32; FEATURES];

/// The stage's answer on a search hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopPick {
    /// The winning candidate (MIDI note), 0 when nothing sounds.
    pub midi: u8,
    /// Its softmax share (0..1): how sure the network is.
    pub probability: f32,
}

/// The fitted network: input normalisation, hidden rows (weights then bias) and the output row
/// (bias first). Produced by `continuo fit-top-voice`.
#[derive(Debug, Clone)]
pub struct Network {
    pub mean: [f32; FEATURES],
    pub scale: [f32; FEATURES],
    pub hidden: [[f32; FEATURES + 1]; HIDDEN],
    pub output: [f32; HIDDEN + 1],
}

impl Network {
    /// The candidate's score (a logit; the softmax over candidates makes it a share).
    pub fn score(&self, x: &Features) -> f32 {
        let mut xn = [0.0f32; FEATURES];
        for (k, v) in xn.iter_mut().enumerate() {
            *v = (x[k] - self.mean[k]) / self.scale[k];
        }
        let mut z = self.output[0];
        for (row, w) in self.hidden.iter().zip(self.output.iter().skip(1)) {
            let mut a = row[FEATURES];
            for (r, v) in row.iter().zip(&xn) {
                a += r * v;
            }
            z += w * squash(a);
        }
        if z.is_finite() {
            z
        } else {
            -30.0
        }
    }

    /// The shipped weights (see [`super::top_voice_weights`]).
    pub fn shipped() -> Self {
        super::top_voice_weights::network()
    }
}

/// Per-frame measures of every candidate (allocation-free after `new`).
pub struct TopVoiceFeatures {
    /// For each candidate, the Hann bin of each partial (0: above the spectrum), made in `new`.
    bins: Vec<u16>,
    /// For each candidate, the Hann bin of each of the [`HALVES`] (0: outside), made in `new`.
    half_bins: Vec<u16>,
    /// Peak-picked magnitudes (each local maximum spread over its two neighbours, the rest 0),
    /// `hann_bins` long, made in `new`.
    peaks: Vec<f32>,
    /// Partial magnitudes over the frame's strongest, `CANDIDATES × PARTIALS`.
    partials: [[f32; PARTIALS]; CANDIDATES],
    /// Harmonic salience per candidate (over the frame's strongest magnitude).
    salience: [f32; CANDIDATES],
    /// The measures, one row per candidate (only the `measured` ones are fresh).
    pub rows: [Features; CANDIDATES],
    /// Which candidates were measured: salience at least [`MIN_SHARE`] of the strongest and a
    /// peak among its semitone neighbours.
    pub measured: [bool; CANDIDATES],
    /// The spectrum's bin width (Hz), for `retune`.
    bin_hz: f32,
}

impl TopVoiceFeatures {
    /// For a Hann spectrum of `hann_bins` bins `bin_hz` apart.
    pub fn new(hann_bins: usize, bin_hz: f32) -> Self {
        let mut features = Self {
            bins: vec![0u16; CANDIDATES * PARTIALS],
            half_bins: vec![0u16; CANDIDATES * HALVES.len()],
            peaks: vec![0.0; hann_bins],
            partials: [[0.0; PARTIALS]; CANDIDATES],
            salience: [0.0; CANDIDATES],
            rows: [[0.0; FEATURES]; CANDIDATES],
            measured: [false; CANDIDATES],
            bin_hz,
        };
        features.retune(0.0);
        features
    }

    /// Makes the candidates' bins for a concert pitch `grid` semitones from A4 = 440 Hz (in
    /// place, no allocation).
    pub fn retune(&mut self, grid: f32) {
        let (hann_bins, bin_hz) = (self.peaks.len(), self.bin_hz);
        let bin = |hz: f32| -> u16 {
            let k = (hz / bin_hz.max(1e-3)).round() as usize;
            if k >= 1 && k + 1 < hann_bins && k <= usize::from(u16::MAX) {
                k as u16
            } else {
                0
            }
        };
        for c in 0..CANDIDATES {
            let f = midi_to_hz(f32::from(LOWEST) + c as f32 + grid);
            for h in 0..PARTIALS {
                if let Some(slot) = self.bins.get_mut(c * PARTIALS + h) {
                    *slot = bin((h + 1) as f32 * f);
                }
            }
            for (j, m) in HALVES.iter().enumerate() {
                if let Some(slot) = self.half_bins.get_mut(c * HALVES.len() + j) {
                    *slot = bin(m * f);
                }
            }
        }
    }

    /// Measures every candidate in `mags` (the long frame's Hann magnitudes). False when the
    /// frame is silent (every row is then left as it was).
    pub fn measure(&mut self, mags: &[f32]) -> bool {
        let n = self.peaks.len().min(mags.len());
        let strongest = mags.iter().take(n).fold(0.0f32, |a, &b| a.max(b));
        if strongest.is_nan() || strongest <= 1e-9 || !strongest.is_finite() {
            return false;
        }
        self.peaks.iter_mut().for_each(|p| *p = 0.0);
        for k in 1..n.saturating_sub(1) {
            let (a, m, b) = (mags[k - 1], mags[k], mags[k + 1]);
            if m > a && m >= b {
                let v = m / strongest;
                for j in k - 1..=k + 1 {
                    if let Some(p) = self.peaks.get_mut(j) {
                        *p = p.max(v);
                    }
                }
            }
        }
        let mut top = 0.0f32;
        for c in 0..CANDIDATES {
            let mut s = 0.0;
            let mut w = 1.0;
            for h in 0..PARTIALS {
                let k = usize::from(self.bins[c * PARTIALS + h]);
                let a = if k > 0 {
                    self.peaks.get(k).copied().unwrap_or(0.0)
                } else {
                    0.0
                };
                self.partials[c][h] = a;
                s += w * a;
                w *= DECAY;
            }
            self.salience[c] = s;
            top = top.max(s);
        }
        let top = top.max(1e-9);
        let ratio = |a: f32, b: f32| log10((a + 1e-6) / (b + 1e-6));
        let share = |c: usize| self.salience[c] / top;
        let peak = |c: usize| {
            let s = share(c);
            s > PEAK_SHARE
                && (c == 0 || s >= share(c - 1))
                && (c + 1 >= CANDIDATES || s >= share(c + 1))
        };
        let mut above = 0.0f32;
        let mut max_above = 0.0f32;
        for c in (0..CANDIDATES).rev() {
            let s = self.salience[c];
            // A chord's top note stands out of its semitone neighbours.
            self.measured[c] = s >= MIN_SHARE * top
                && (c == 0 || s >= self.salience[c - 1])
                && (c + 1 >= CANDIDATES || s >= self.salience[c + 1]);
            if !self.measured[c] {
                if peak(c) {
                    above += 1.0;
                }
                max_above = max_above.max(s);
                continue;
            }
            let row = &mut self.rows[c];
            let mut i = 0;
            for h in 0..PARTIALS {
                row[i] = log10(self.partials[c][h] + 1e-4);
                i += 1;
            }
            row[i] = s / top;
            row[i + 1] = log10(s / top + 1e-4);
            i += 2;
            for d in BELOW {
                let lower = c.checked_sub(d).map_or(0.0, |b| self.salience[b]);
                row[i] = ratio(lower, s);
                i += 1;
            }
            for d in ABOVE {
                let upper = self.salience.get(c + d).copied().unwrap_or(0.0);
                row[i] = ratio(upper, s);
                i += 1;
            }
            row[i] = above;
            row[i + 1] = (f32::from(LOWEST) + c as f32 - 65.0) / 12.0;
            i += 2;
            for d in NEIGHBOURS {
                let other = c
                    .checked_add_signed(d)
                    .and_then(|o| self.salience.get(o).copied())
                    .unwrap_or(0.0);
                row[i] = ratio(other, s);
                i += 1;
            }
            row[i] = ratio(max_above, s);
            i += 1;
            for j in 0..HALVES.len() {
                let k = usize::from(self.half_bins[c * HALVES.len() + j]);
                let a = if k > 0 {
                    self.peaks.get(k).copied().unwrap_or(0.0)
                } else {
                    0.0
                };
                row[i] = log10(a + 1e-4);
                i += 1;
            }
            debug_assert_eq!(i, FEATURES);
            if peak(c) {
                above += 1.0;
            }
            max_above = max_above.max(s);
        }
        true
    }
}

/// The stage: measures, network, softmax.
pub struct TopVoice {
    /// The candidates' measures (scratch made in `new`).
    pub features: TopVoiceFeatures,
    /// The fitted network.
    network: Network,
    /// Scores of the last search (logits).
    scores: [f32; CANDIDATES],
    /// Leaky mean of the candidates' softmax shares over the recent searches: a chord's top
    /// note wins on most hops, one of its partials on a few.
    mean: [f32; CANDIDATES],
    /// Weight of each search in `mean` (1: no smoothing).
    rate: f32,
}

impl TopVoice {
    pub fn new(hann_bins: usize, bin_hz: f32, network: Network, rate: f32) -> Self {
        Self {
            features: TopVoiceFeatures::new(hann_bins, bin_hz),
            network,
            scores: [0.0; CANDIDATES],
            mean: [0.0; CANDIDATES],
            rate: rate.clamp(0.01, 1.0),
        }
    }

    /// Forgets the recent searches.
    pub fn reset(&mut self) {
        self.mean = [0.0; CANDIDATES];
    }

    /// The top voice of the frame whose Hann magnitudes are `mags`.
    pub fn process(&mut self, mags: &[f32]) -> TopPick {
        if !self.features.measure(mags) {
            return TopPick::default();
        }
        let mut best = 0;
        for (c, row) in self.features.rows.iter().enumerate() {
            self.scores[c] = if self.features.measured[c] {
                self.network.score(row)
            } else {
                f32::MIN
            };
            if self.scores[c] > self.scores[best] {
                best = c;
            }
        }
        let max = self.scores[best];
        let total: f32 = self
            .scores
            .iter()
            .zip(&self.features.measured)
            .filter(|(_, &m)| m)
            .map(|(&s, _)| (s - max).exp())
            .sum();
        if total.is_nan() || total <= 0.0 {
            return TopPick::default();
        }
        for (c, (m, &score)) in self.mean.iter_mut().zip(&self.scores).enumerate() {
            let share = if self.features.measured[c] {
                (score - max).exp() / total
            } else {
                0.0
            };
            *m += (share - *m) * self.rate;
        }
        let mut winner = 0;
        for (c, &m) in self.mean.iter().enumerate() {
            if m > self.mean[winner] {
                winner = c;
            }
        }
        TopPick {
            midi: LOWEST + winner as u8,
            probability: self.mean[winner],
        }
    }
}

/// Settings of the follower.
#[derive(Debug, Clone, Copy)]
pub struct FollowerConfig {
    /// A pick counts from this softmax share.
    pub sure: f32,
    /// Search hops in a row the same sure pick must win before its note starts.
    pub confirm: u32,
    /// The sounding note ends after this many search hops in a row without a sure pick of it
    /// (0: it holds until another note takes over, the input falls quiet or the chords end).
    pub lose: u32,
    /// No note starts, and the sounding one ends, below this short-term level (dBFS).
    pub gate_db: f32,
    /// A note is dated this many samples before its run's first search hop (the long frame
    /// reads a new note about half its length after it began) ...
    pub backdate: u64,
    /// ... or at the latest onset no more than this many samples before that (and after the
    /// sounding note's own onset). About a second: an organ's or a string section's new top
    /// note wins the search only once the old chord's reverberation has faded, 150–350 ms
    /// after it began, long after the onset that began it (held-out tune chorales: soprano
    /// notes 3146 → 3209 of 5964, wrong notes 2509 → 2407, against 16 hops).
    pub onset_window: u64,
    /// Another note takes over only once the sounding one's salience fell this far (dB) under
    /// its peak: a held top note under re-struck lower voices, or a partial that wins for a
    /// moment, does not end it (0: any sure winner takes over).
    pub takeover_drop_db: f32,
    /// A rise of the note's salience dates it (the tracker's way with slow attacks) from this
    /// many dB, this many samples before it crossed a quarter of the way.
    pub rise_min_db: f32,
    pub rise_backdate: u64,
    /// Re-attack: a sounding top note starts again, dated at an onset, when within
    /// `reattack_wait` samples after that onset `reattack_share` of its harmonic energy sits in
    /// partials that rose this far (dB) since just before the onset, and it still wins the
    /// search (a chorale's soprano repeats its pitch while the lower voices move: its string is
    /// struck again, and all its partials rise; a lower voice's attack raises only the few
    /// partials the two share). 0: never.
    pub reattack_db: f32,
    /// ... see `reattack_db`.
    pub reattack_share: f32,
    /// ... see `reattack_db`.
    pub reattack_wait: u64,
    /// Onsets sooner than this after the note's own onset are its own attack, not a new one.
    pub reattack_min_age: u64,
}

/// One hop's output: at most one end and one start (end first), as the tracker's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FollowerOutput {
    /// (pitch, offset in stream samples)
    pub off: Option<(u8, u64)>,
    /// (pitch, velocity, onset in stream samples)
    pub on: Option<(u8, f32, u64)>,
}

/// Notes from the top voice while the input is chords.
#[derive(Debug, Clone, Copy)]
pub struct TopFollower {
    config: FollowerConfig,
    /// The sounding top-voice note.
    active: Option<u8>,
    /// The candidate winning surely in a row, since which search hop (samples), for how many.
    run: Option<(u8, u64, u32)>,
    /// The run has had its one unsure search.
    run_dipped: bool,
    /// Search hops in a row without a sure pick of the sounding note.
    unsure: u32,
    /// The latest onset (stream samples).
    last_onset: Option<u64>,
    /// The sounding note's highest salience since it began (dB).
    active_peak_db: f32,
    /// When the sounding note began (its dated onset, stream samples).
    active_since: u64,
    /// An onset under the sounding note that may be its re-attack.
    reattack: Option<u64>,
}

impl TopFollower {
    pub fn new(config: FollowerConfig) -> Self {
        Self {
            config,
            active: None,
            run: None,
            run_dipped: false,
            unsure: 0,
            last_onset: None,
            active_peak_db: f32::MIN,
            active_since: 0,
            reattack: None,
        }
    }

    /// Forgets everything (the caller ends a sounding note first, see [`Self::stop`]).
    pub fn reset(&mut self) {
        self.active = None;
        self.run = None;
        self.run_dipped = false;
        self.unsure = 0;
        self.last_onset = None;
        self.reattack = None;
    }

    /// Its settings.
    pub fn config(&self) -> FollowerConfig {
        self.config
    }

    /// The sounding note, if any.
    pub fn active(&self) -> Option<u8> {
        self.active
    }

    /// Remembers an onset (every hop where the onset detector fired); one under the sounding
    /// note may be its re-attack (see [`FollowerConfig::reattack_db`]).
    pub fn onset(&mut self, time: u64) {
        self.last_onset = Some(time);
        let c = self.config;
        if self.active.is_some()
            && c.reattack_db > 0.0
            && time >= self.active_since.saturating_add(c.reattack_min_age)
        {
            // A later onset replaces a pending one (the newest attack is the one to date).
            self.reattack = Some(time);
        }
    }

    /// Ends the sounding note at `time` (the chords ended, or the stream stops).
    pub fn stop(&mut self, time: u64) -> FollowerOutput {
        self.run = None;
        self.unsure = 0;
        self.reattack = None;
        FollowerOutput {
            off: self.active.take().map(|p| (p, time)),
            on: None,
        }
    }

    /// One search hop's pick at stream time `time` with short-term level `recent_db`.
    /// `rise(pitch)` dates a new note from its salience's rise, when it rose (stream samples).
    pub fn follow(
        &mut self,
        pick: TopPick,
        time: u64,
        recent_db: f32,
        rise: impl Fn(u8) -> Option<u64>,
        salience_db: impl Fn(u8) -> Option<f32>,
        rise_share: impl Fn(u8, u64) -> f32,
    ) -> FollowerOutput {
        let c = self.config;
        let active_db = self.active.and_then(&salience_db);
        if let Some(db) = active_db {
            self.active_peak_db = self.active_peak_db.max(db);
        }
        let mut out = FollowerOutput::default();
        if recent_db.is_nan() || recent_db < c.gate_db {
            return self.stop(time);
        }
        let sure = pick.midi > 0 && pick.probability >= c.sure;
        // One unsure search inside a run does not break it (the winner's share dips while
        // another voice moves); a second one, or another sure winner, does.
        self.run = match (sure, self.run) {
            (false, Some((p, since, n))) if !self.run_dipped => {
                self.run_dipped = true;
                Some((p, since, n))
            }
            (false, _) => None,
            (true, Some((p, since, n))) if p == pick.midi => Some((p, since, n.saturating_add(1))),
            (true, _) => Some((pick.midi, time, 1)),
        };
        if sure || self.run.is_none() {
            self.run_dipped = false;
        }
        if sure && self.active == Some(pick.midi) {
            self.unsure = 0;
        } else if self.active.is_some() {
            self.unsure = self.unsure.saturating_add(1);
        }
        if let Some((p, since, n)) = self.run {
            let released = c.takeover_drop_db <= 0.0
                || active_db.is_none_or(|db| db <= self.active_peak_db - c.takeover_drop_db);
            if n >= c.confirm && self.active != Some(p) && released {
                // The salience's rise, else half a frame before the run; an onset at most
                // `onset_window` before that (and not after the run began) is sharper.
                let read = rise(p)
                    .unwrap_or(since.saturating_sub(c.backdate))
                    .min(since);
                // (Never one at or before the sounding note's own onset: that one was its.)
                let after_active = |o: u64| self.active.is_none() || o > self.active_since;
                let onset = match self.last_onset {
                    Some(o) if o <= since && o + c.onset_window >= read && after_active(o) => o,
                    _ => read,
                };
                if let Some(old) = self.active.take() {
                    out.off = Some((old, time));
                }
                self.active = Some(p);
                self.active_peak_db = salience_db(p).unwrap_or(f32::MIN);
                self.active_since = onset;
                self.unsure = 0;
                self.reattack = None;
                out.on = Some((p, super::loudness::velocity_from_db(recent_db), onset));
                return out;
            }
        }
        // Re-attack of the sounding note: it still wins, and its partials rose since the onset.
        if let (Some(p), Some(at)) = (self.active, self.reattack) {
            if time > at.saturating_add(c.reattack_wait) {
                self.reattack = None;
            } else if sure && pick.midi == p && rise_share(p, at) >= c.reattack_share {
                self.reattack = None;
                self.active_peak_db = active_db.unwrap_or(f32::MIN);
                self.active_since = at;
                out.off = Some((p, at));
                out.on = Some((p, super::loudness::velocity_from_db(recent_db), at));
                return out;
            }
        }
        if c.lose > 0 && self.unsure >= c.lose {
            if let Some(old) = self.active.take() {
                out.off = Some((old, time));
            }
            self.unsure = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follower() -> TopFollower {
        TopFollower::new(FollowerConfig {
            sure: 0.6,
            confirm: 3,
            lose: 0,
            gate_db: -50.0,
            takeover_drop_db: 0.0,
            backdate: 1000,
            onset_window: 500,
            rise_min_db: 6.0,
            rise_backdate: 0,
            reattack_db: 0.0,
            reattack_share: 0.5,
            reattack_wait: 0,
            reattack_min_age: 0,
        })
    }

    /// No partial rose (no re-attack).
    fn flat(_: u8, _: u64) -> f32 {
        0.0
    }

    fn pick(midi: u8, probability: f32) -> TopPick {
        TopPick { midi, probability }
    }

    #[test]
    fn the_cheap_log_is_close() {
        for i in -80..=80 {
            let x = 10f32.powf(i as f32 / 10.0);
            assert!((log10(x) - x.log10()).abs() < 2e-4, "{x}");
        }
        assert_eq!(log10(0.0), -30.0);
        assert_eq!(log10(f32::NAN), -30.0);
        assert_eq!(log10(-1.0), -30.0);
    }

    #[test]
    fn squash_is_a_close_tanh() {
        for i in -60..=60 {
            let x = i as f32 / 10.0;
            assert!((squash(x) - x.tanh()).abs() < 0.03, "{x}");
            assert_eq!(squash(-x), -squash(x));
        }
        assert!(squash(f32::INFINITY) <= 1.0 && squash(f32::NEG_INFINITY) >= -1.0);
    }

    #[test]
    fn the_follower_starts_confirmed_picks_and_ends_them() {
        let mut f = follower();
        let none = |_: u8| None;
        let level = |_: u8| Some(-20.0);
        // Two sure searches are not enough; the third starts the note, dated half a frame
        // before its run began (no onset, no rise).
        assert_eq!(
            f.follow(pick(72, 0.9), 10_000, -20.0, none, level, flat),
            FollowerOutput::default()
        );
        assert_eq!(
            f.follow(pick(72, 0.8), 10_512, -20.0, none, level, flat),
            FollowerOutput::default()
        );
        let out = f.follow(pick(72, 0.7), 11_024, -20.0, none, level, flat);
        assert_eq!(out.off, None);
        assert_eq!(out.on.map(|o| (o.0, o.2)), Some((72, 9_000)));
        // An unsure search inside another run does not break it; a new note takes over, dated
        // at its rise (which the caller found), and the old one ends.
        f.onset(20_000);
        assert_eq!(
            f.follow(pick(74, 0.9), 20_100, -20.0, none, level, flat).on,
            None
        );
        assert_eq!(
            f.follow(pick(74, 0.3), 20_612, -20.0, none, level, flat).on,
            None
        );
        assert_eq!(
            f.follow(pick(74, 0.9), 21_124, -20.0, none, level, flat).on,
            None
        );
        let out = f.follow(pick(74, 0.9), 21_636, -20.0, |_| Some(19_900), level, flat);
        assert_eq!(out.off, Some((72, 21_636)));
        // The onset at 20 000 lies within 500 samples after the rise: it dates the note.
        assert_eq!(out.on.map(|o| (o.0, o.2)), Some((74, 20_000)));
        // Unsure searches keep the note (lose = 0); quiet ends it; stopping twice is harmless.
        for k in 0..10 {
            assert_eq!(
                f.follow(pick(60, 0.2), 22_000 + k, -20.0, none, level, flat),
                FollowerOutput::default()
            );
        }
        let out = f.follow(pick(74, 0.9), 30_000, -80.0, none, level, flat);
        assert_eq!(out.off, Some((74, 30_000)));
        assert_eq!(f.stop(31_000), FollowerOutput::default());
        assert_eq!(f.active(), None);
    }

    #[test]
    fn a_held_top_note_is_not_taken_over_until_it_fades() {
        let mut f = TopFollower::new(FollowerConfig {
            takeover_drop_db: 6.0,
            ..follower().config()
        });
        let none = |_: u8| None;
        for t in 0..3 {
            f.follow(pick(72, 0.9), t * 512, -20.0, none, |_| Some(-20.0), flat);
        }
        assert_eq!(f.active(), Some(72));
        // A lower voice wins for a while, but the top note still sounds at its peak.
        for t in 3..10 {
            let out = f.follow(pick(65, 0.9), t * 512, -20.0, none, |_| Some(-20.0), flat);
            assert_eq!(out, FollowerOutput::default());
        }
        // Once it has fallen 6 dB the winner takes over.
        let out = f.follow(
            pick(65, 0.9),
            10 * 512,
            -20.0,
            none,
            |p| Some(if p == 72 { -27.0 } else { -20.0 }),
            flat,
        );
        assert_eq!(out.off.map(|o| o.0), Some(72));
        assert_eq!(out.on.map(|o| o.0), Some(65));
    }

    #[test]
    fn a_top_note_struck_again_starts_again() {
        let mut f = TopFollower::new(FollowerConfig {
            reattack_db: 10.0,
            reattack_share: 0.8,
            reattack_wait: 4_000,
            reattack_min_age: 5_000,
            ..follower().config()
        });
        let none = |_: u8| None;
        let level = |_: u8| Some(-20.0);
        for t in 0..3 {
            f.follow(pick(72, 0.9), 1_000 + t * 512, -20.0, none, level, flat);
        }
        assert_eq!(f.active(), Some(72));
        // An onset right after the note's own start is its attack: nothing happens.
        f.onset(3_000);
        let risen = |_: u8, _: u64| 0.9;
        assert_eq!(
            f.follow(pick(72, 0.9), 3_500, -20.0, none, level, risen),
            FollowerOutput::default()
        );
        // Later, another voice's attack raises only a few of its partials: no re-attack.
        f.onset(10_000);
        let few = |_: u8, at: u64| if at == 10_000 { 0.3 } else { 0.0 };
        assert_eq!(
            f.follow(pick(72, 0.9), 10_512, -20.0, none, level, few),
            FollowerOutput::default()
        );
        // Struck again: all its partials rose since the onset, and it still wins. It ends
        // and starts again, both dated at the onset.
        f.onset(20_000);
        let out = f.follow(pick(72, 0.9), 20_512, -20.0, none, level, risen);
        assert_eq!(out.off, Some((72, 20_000)));
        assert_eq!(out.on.map(|o| (o.0, o.2)), Some((72, 20_000)));
        // Once: the next search does not repeat it.
        assert_eq!(
            f.follow(pick(72, 0.9), 21_024, -20.0, none, level, risen),
            FollowerOutput::default()
        );
        // An unsure pick, or a rise seen only after the wait, starts nothing.
        f.onset(30_000);
        assert_eq!(
            f.follow(pick(72, 0.3), 30_512, -20.0, none, level, risen),
            FollowerOutput::default()
        );
        assert_eq!(
            f.follow(pick(72, 0.9), 34_512, -20.0, none, level, risen),
            FollowerOutput::default()
        );
        // Off by default (reattack_db 0).
        let mut plain = follower();
        for t in 0..3 {
            plain.follow(pick(72, 0.9), 1_000 + t * 512, -20.0, none, level, flat);
        }
        plain.onset(20_000);
        assert_eq!(
            plain.follow(pick(72, 0.9), 20_512, -20.0, none, level, risen),
            FollowerOutput::default()
        );
    }

    #[test]
    fn silent_or_broken_spectra_give_no_pick() {
        let bins = 1025;
        let mut stage = TopVoice::new(bins, 48_000.0 / 2048.0, Network::shipped(), 0.5);
        assert_eq!(stage.process(&vec![0.0; bins]), TopPick::default());
        assert_eq!(stage.process(&vec![f32::NAN; bins]), TopPick::default());
        assert_eq!(stage.process(&[]), TopPick::default());
        let mut inf = vec![0.0; bins];
        inf[100] = f32::INFINITY;
        assert_eq!(stage.process(&inf), TopPick::default());
    }

    /// Magnitudes of C3, E4, G4 and C5, each with `partials` partials falling as 1/h, over a
    /// floor of `floor`, `bins` bins `bin_hz` apart.
    fn chord_spectrum(bins: usize, bin_hz: f32, partials: usize, floor: f32) -> Vec<f32> {
        let mut mags = vec![floor; bins];
        for m in [48.0f32, 64.0, 67.0, 72.0] {
            for h in 1..=partials {
                let k = (h as f32 * midi_to_hz(m) / bin_hz).round() as usize;
                if k + 1 < bins {
                    mags[k] += 1.0 / h as f32;
                    mags[k - 1] += 0.5 / h as f32;
                    mags[k + 1] += 0.5 / h as f32;
                }
            }
        }
        mags
    }

    #[test]
    fn a_chord_of_harmonic_tones_is_topped_by_its_highest_note() {
        // The shipped network names C5, the chord's top note.
        let (bins, bin_hz) = (1025usize, 48_000.0 / 2048.0);
        let mags = chord_spectrum(bins, bin_hz, 6, 0.0);
        let mut stage = TopVoice::new(bins, bin_hz, Network::shipped(), 1.0);
        let top = stage.process(&mags);
        assert_eq!(top.midi, 72, "{top:?}");
    }

    /// `cargo test --release -p continuo --lib top_voice_search_cost -- --ignored --nocapture`:
    /// the time of one search on that chord's spectrum (8 partials, over a small floor).
    #[test]
    #[ignore]
    fn top_voice_search_cost() {
        let (bins, bin_hz) = (257usize, 48_000.0 / 2048.0);
        let mags = chord_spectrum(bins, bin_hz, 8, 0.001);
        let mut stage = TopVoice::new(bins, bin_hz, Network::shipped(), 0.35);
        let runs = 20_000;
        let start = std::time::Instant::now();
        let mut sum = 0u32;
        for _ in 0..runs {
            sum += u32::from(stage.process(std::hint::black_box(&mags)).midi);
        }
        let measured = stage.features.measured.iter().filter(|&&m| m).count();
        println!(
            "{:.2} µs per search, {measured} candidates measured ({sum})",
            start.elapsed().as_secs_f64() * 1e6 / runs as f64
        );
    }
}
