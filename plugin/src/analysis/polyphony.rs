//! Polyphony (AUDIO THREAD): does more than one note sound? The analyser follows one voice; when
//! a chord is played its pitch stage names one note, a common subharmonic or a partial, and may
//! name another on the next hop. This stage says so, so that the tracker can stay quiet and the
//! editor can show it.
//!
//! Per hop, on the Hann magnitudes of the long frame: the strongest candidate note (harmonic
//! energy of its first partials, with energy at its fundamental) is taken as the first voice;
//! every partial of *half* its frequency is masked where the bins allow (so that an octave error,
//! or a sound with only even harmonics, leaves nothing behind); what remains is searched for a second candidate the
//! same way. Several notes sound when the second holds at least `ratio` of the first's energy
//! for `hold_hops` hops in a row. A monophonic note leaves little behind its own harmonics
//! (noise spreads thinly over all bins; reverberation of the previous note fades), a chord's
//! other notes leave their fundamentals and most of their partials.
//!
//! That flag alone does not separate chords from one note well (see `chord_judge.rs`), so the
//! same search also masks the second voice and looks for a third, and measures how much of the
//! spectrum the first voice leaves unexplained; the chord judge turns those measures (with the
//! hop's pitch confidence and chroma) into a probability, and its leaky mean over the recent
//! search hops is the stage's *chords* decision: the input is polyphonic (a keyboard's chords,
//! an ensemble), and the tracker starts no note while it holds.

use super::chord_judge::{self, ChordMeasures};
use crate::music::midi_to_hz;

/// The half-frequency comb is masked only when its partials are at least this many bins apart
/// (±1 bin each would otherwise mask everything).
const HALF_MIN_BINS: f32 = 6.0;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct PolyphonyConfig {
    pub sample_rate: f32,
    /// Frame length of the Hann spectrum (bin `k` is at `k · rate / frame_len` Hz).
    pub frame_len: usize,
    /// Lowest and highest candidate MIDI notes.
    pub min_midi: u8,
    pub max_midi: u8,
    /// Partials summed per candidate.
    pub harmonics: usize,
    /// The second candidate's energy over the first's from which a hop counts as a chord.
    pub ratio: f32,
    /// A fundamental counts when its magnitude is at least this fraction of the candidate's
    /// strongest partial.
    pub fundamental_floor: f32,
    /// Hops in a row needed to raise (and to clear) the flag.
    pub hold_hops: u32,
    /// The spectrum is searched on one hop in this many (the flag is held between): a chord
    /// lasts far longer than a hop, and the search costs about a tenth of the analyser.
    pub every_hops: u32,
    /// Weight of each search hop in the leaky mean of the chord judge's probability (search
    /// interval / its time constant).
    pub chord_rate: f32,
    /// The *chords* decision rises when that mean reaches this ...
    pub chord_on: f32,
    /// ... and clears when it falls below this (hysteresis).
    pub chord_off: f32,
}

/// The stage's answer for one hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolyphonyOutput {
    /// Several notes sound (held for `hold_hops`).
    pub polyphonic: bool,
    /// This hop alone: the second candidate's energy over the first's (0 when none).
    pub ratio: f32,
    /// The two candidates (MIDI), 0 when none.
    pub first: u8,
    pub second: u8,
    /// The third candidate (MIDI, first and second voices masked), 0 when none.
    pub third: u8,
    /// The input is polyphonic: the leaky mean of the chord judge's probability is high.
    pub chords: bool,
    /// That leaky mean (0..1).
    pub chord_share: f32,
    /// The chord judge's probability on the last search hop (0 when unvoiced).
    pub probability: f32,
    /// The measures of the last search hop (what the chord judge saw).
    pub measures: ChordMeasures,
    /// This hop searched the spectrum (the answer is fresh, not held from an earlier hop).
    pub searched: bool,
}

/// Polyphony stage.
pub struct Polyphony {
    /// Settings, fixed at construction.
    config: PolyphonyConfig,
    /// For each candidate, `harmonics` bin indices (0 = unused), computed in `new`.
    bins: Vec<u16>,
    /// Per-bin mask of the first voice's partials (scratch, allocated in `new`).
    masked: Vec<bool>,
    /// Bin width in Hz.
    bin_hz: f32,
    /// Consecutive hops that looked like a chord / like one note.
    chord_hops: u32,
    single_hops: u32,
    /// The held flag.
    polyphonic: bool,
    /// Hops until the next search.
    countdown: u32,
    /// The last search's answer (returned on the hops in between).
    last: PolyphonyOutput,
    /// Leaky mean of the chord judge's probability over search hops (unvoiced ones count 0).
    chord_share: f32,
    /// The held *chords* decision.
    chords: bool,
}

impl Polyphony {
    pub fn new(config: PolyphonyConfig) -> Self {
        let bin_hz = config.sample_rate / config.frame_len.max(1) as f32;
        let nyquist_bin = config.frame_len / 2;
        let bins = super::salience::harmonic_bins(
            config.sample_rate,
            config.frame_len,
            config.min_midi,
            config.max_midi,
            config.harmonics,
        );
        Self {
            config,
            bins,
            masked: vec![false; nyquist_bin + 2],
            bin_hz,
            chord_hops: 0,
            single_hops: 0,
            polyphonic: false,
            countdown: 0,
            last: PolyphonyOutput::default(),
            chord_share: 0.0,
            chords: false,
        }
    }

    /// Highest bin index read (the magnitudes handed to `process` should reach it).
    pub fn bins_needed(&self) -> usize {
        self.bins.iter().copied().max().unwrap_or(0) as usize + 2
    }

    /// The best candidate of `mags` (unmasked bins only once `use_mask`): (index, energy).
    fn best(&self, mags: &[f32], use_mask: bool) -> Option<(usize, f32)> {
        let h = self.config.harmonics.max(1);
        let mut best: Option<(usize, f32)> = None;
        for (c, partials) in self.bins.chunks_exact(h).enumerate() {
            let mut energy = 0.0f32;
            let mut strongest = 0.0f32;
            let mut fundamental = 0.0f32;
            for (k, &b) in partials.iter().enumerate() {
                let b = b as usize;
                if b == 0 {
                    continue;
                }
                // The strongest of the three bins around the partial; once masked, only of
                // the bins the first voice leaves free (its main lobes are 3 bins wide).
                let mut m = 0.0f32;
                for i in b - 1..=b + 1 {
                    let free = !use_mask || !self.masked.get(i).copied().unwrap_or(true);
                    if free {
                        m = m.max(mags.get(i).copied().unwrap_or(0.0));
                    }
                }
                if k == 0 {
                    fundamental = m;
                }
                strongest = strongest.max(m);
                energy += m * m;
            }
            if strongest > 0.0
                && fundamental >= self.config.fundamental_floor * strongest
                && best.is_none_or(|(_, e)| energy > e)
            {
                best = Some((c, energy));
            }
        }
        best
    }

    /// Marks every partial of `base_hz` (±1 bin) in the mask, below bin `bins`.
    fn mask_comb(&mut self, base_hz: f32, bins: usize) {
        let mut k = 1usize;
        loop {
            let b = (base_hz * k as f32 / self.bin_hz).round() as usize;
            if !(base_hz > 0.0) || b >= bins || k > 512 {
                break;
            }
            for i in b.saturating_sub(1)..=(b + 1) {
                if let Some(m) = self.masked.get_mut(i) {
                    *m = true;
                }
            }
            k += 1;
        }
    }

    /// One hop: `mags` are Hann magnitudes of the long frame, bin 0 first; `voiced` says
    /// whether the frame is loud enough to hold a note at all; `confidence` is the hop's pitch
    /// confidence and `chroma_peak` its largest chroma value (for the chord judge).
    pub fn process(
        &mut self,
        mags: &[f32],
        voiced: bool,
        confidence: f32,
        chroma_peak: f32,
    ) -> PolyphonyOutput {
        if self.countdown > 0 {
            self.countdown -= 1;
            self.last.searched = false;
            return self.last;
        }
        let every = self.config.every_hops.max(1);
        self.countdown = every - 1;
        let mut out = PolyphonyOutput {
            searched: true,
            ..PolyphonyOutput::default()
        };
        if voiced {
            if let Some((first, e1)) = self.best(mags, false) {
                // Mask every partial of the first voice (±1 bin), and of half its frequency
                // where those partials are far enough apart (at least `HALF_MIN_BINS`) not to
                // cover the whole spectrum.
                self.masked.iter_mut().for_each(|m| *m = false);
                let f1 = midi_to_hz((self.config.min_midi as usize + first) as f32);
                let base = if 0.5 * f1 / self.bin_hz >= HALF_MIN_BINS {
                    0.5 * f1
                } else {
                    f1
                };
                let bins = self.masked.len().min(mags.len() + 1);
                self.mask_comb(base, bins);
                out.first = self.config.min_midi + first as u8;
                out.measures.left = self.unexplained(mags);
                if let Some((second, e2)) = self.best(mags, true) {
                    if e1 > 0.0 {
                        out.ratio = e2 / e1;
                        out.second = self.config.min_midi + second as u8;
                        let f2 = midi_to_hz((self.config.min_midi as usize + second) as f32);
                        self.mask_comb(f2, bins);
                        if let Some((third, e3)) = self.best(mags, true) {
                            out.measures.third = e3 / e1;
                            out.third = self.config.min_midi + third as u8;
                        }
                    }
                }
                out.measures.second = out.ratio;
                out.measures.confidence = confidence;
                out.measures.chroma_peak = chroma_peak;
                out.probability = chord_judge::probability(&out.measures);
            }
        }
        if out.ratio >= self.config.ratio {
            self.chord_hops = self.chord_hops.saturating_add(every);
            self.single_hops = 0;
        } else {
            self.single_hops = self.single_hops.saturating_add(every);
            self.chord_hops = 0;
        }
        let hold = self.config.hold_hops.max(1);
        if self.chord_hops >= hold {
            self.polyphonic = true;
        } else if self.single_hops >= hold {
            self.polyphonic = false;
        }
        let rate = self.config.chord_rate.clamp(0.0, 1.0);
        self.chord_share += (out.probability - self.chord_share) * rate;
        if self.chord_share >= self.config.chord_on {
            self.chords = true;
        } else if self.chord_share < self.config.chord_off {
            self.chords = false;
        }
        out.polyphonic = self.polyphonic;
        out.chords = self.chords;
        out.chord_share = self.chord_share;
        self.last = out;
        out
    }

    /// Share of the energy of `mags` (from the lowest candidate's fundamental up) in bins the
    /// mask leaves free: what the masked voice does not explain.
    fn unexplained(&self, mags: &[f32]) -> f32 {
        let lo = ((midi_to_hz(f32::from(self.config.min_midi)) / self.bin_hz) as usize)
            .saturating_sub(1);
        let (mut free, mut total) = (0.0f32, 0.0f32);
        for (&m, &masked) in mags.iter().zip(self.masked.iter()).skip(lo) {
            let e = m * m;
            total += e;
            if !masked {
                free += e;
            }
        }
        if total > 0.0 {
            free / total
        } else {
            0.0
        }
    }

    pub fn reset(&mut self) {
        self.masked.iter_mut().for_each(|m| *m = false);
        self.chord_hops = 0;
        self.single_hops = 0;
        self.polyphonic = false;
        self.countdown = 0;
        self.last = PolyphonyOutput::default();
        self.chord_share = 0.0;
        self.chords = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stft::{Stft, StftConfig, WindowShape};

    fn stage() -> Polyphony {
        Polyphony::new(PolyphonyConfig {
            sample_rate: 48_000.0,
            frame_len: 2048,
            min_midi: 28,
            max_midi: 100,
            harmonics: 6,
            ratio: 0.35,
            fundamental_floor: 0.1,
            hold_hops: 3,
            every_hops: 1,
            chord_rate: 0.2,
            chord_on: 0.7,
            chord_off: 0.2,
        })
    }

    fn mags_of(notes: &[(f32, f32)]) -> Vec<f32> {
        let (sr, n) = (48_000.0f32, 2048usize);
        let frame: Vec<f32> = (0..n)
            .map(|i| {
                notes
                    .iter()
                    .map(|&(midi, amp)| {
                        let hz = midi_to_hz(midi);
                        (1..=8)
                            .map(|h| {
                                (std::f32::consts::TAU * hz * h as f32 * i as f32 / sr).sin()
                                    / h as f32
                            })
                            .sum::<f32>()
                            * amp
                    })
                    .sum()
            })
            .collect();
        let mut stft = Stft::new(StftConfig {
            frame_len: n,
            fft_len: 2 * n,
            window: WindowShape::Rectangular,
        });
        stft.process(&frame);
        let mut mags = vec![0.0; n / 2 + 1];
        Stft::hann_magnitudes_from_padded(stft.spectrum(), n, &mut mags);
        mags
    }

    #[test]
    fn one_note_is_not_a_chord() {
        for midi in [40.0, 57.0, 69.0, 84.0] {
            let mags = mags_of(&[(midi, 0.3)]);
            let mut p = stage();
            let mut out = PolyphonyOutput::default();
            for _ in 0..5 {
                out = p.process(&mags, true, 0.9, 0.3);
            }
            assert!(!out.polyphonic, "{midi}: {out:?}");
        }
    }

    #[test]
    fn a_triad_is_a_chord() {
        // C major, E minor and a dyad a major third apart.
        for chord in [
            &[(60.0, 0.3), (64.0, 0.3), (67.0, 0.3)][..],
            &[(64.0, 0.3), (67.0, 0.3), (71.0, 0.3)][..],
            &[(67.0, 0.3), (71.0, 0.3)][..],
        ] {
            let mags = mags_of(chord);
            let mut p = stage();
            let mut out = PolyphonyOutput::default();
            for _ in 0..5 {
                out = p.process(&mags, true, 0.9, 0.3);
            }
            assert!(out.polyphonic, "{chord:?}: {out:?}");
        }
        // Silence clears the flag after the hold.
        let mut p = stage();
        let mags = mags_of(&[(60.0, 0.3), (64.0, 0.3)]);
        for _ in 0..5 {
            p.process(&mags, true, 0.9, 0.3);
        }
        for _ in 0..5 {
            p.process(&mags, false, 0.0, 0.0);
        }
        assert!(!p.process(&mags, false, 0.0, 0.0).polyphonic);
    }

    /// The chord judge: a held triad (or four-part chord) of harmonic tones makes the *chords*
    /// decision rise; one note, low or high, never does.
    #[test]
    fn the_chord_judge_tells_chords_from_one_note() {
        for chord in [
            &[(60.0, 0.3), (64.0, 0.3), (67.0, 0.3)][..],
            &[(48.0, 0.3), (55.0, 0.3), (64.0, 0.3), (72.0, 0.3)][..],
        ] {
            let mags = mags_of(chord);
            let mut p = stage();
            let mut out = PolyphonyOutput::default();
            for _ in 0..30 {
                out = p.process(&mags, true, 0.3, 0.3);
            }
            assert!(out.chords, "{chord:?}: {out:?}");
        }
        for midi in [40.0, 57.0, 69.0, 84.0] {
            let mags = mags_of(&[(midi, 0.3)]);
            let mut p = stage();
            let mut out = PolyphonyOutput::default();
            for _ in 0..30 {
                out = p.process(&mags, true, 0.98, 0.8);
                assert!(!out.chords, "{midi}: {out:?}");
            }
            assert!(out.chord_share < 0.3, "{midi}: {out:?}");
        }
    }
}
