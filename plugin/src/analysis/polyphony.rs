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

    /// One hop: `mags` are Hann magnitudes of the long frame, bin 0 first; `voiced` says
    /// whether the frame is loud enough to hold a note at all.
    pub fn process(&mut self, mags: &[f32], voiced: bool) -> PolyphonyOutput {
        if self.countdown > 0 {
            self.countdown -= 1;
            return self.last;
        }
        let every = self.config.every_hops.max(1);
        self.countdown = every - 1;
        let mut out = PolyphonyOutput::default();
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
                let mut k = 1usize;
                loop {
                    let b = (base * k as f32 / self.bin_hz).round() as usize;
                    if b >= bins || k > 512 {
                        break;
                    }
                    for i in b.saturating_sub(1)..=(b + 1) {
                        if let Some(m) = self.masked.get_mut(i) {
                            *m = true;
                        }
                    }
                    k += 1;
                }
                out.first = self.config.min_midi + first as u8;
                if let Some((second, e2)) = self.best(mags, true) {
                    if e1 > 0.0 {
                        out.ratio = e2 / e1;
                        out.second = self.config.min_midi + second as u8;
                    }
                }
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
        out.polyphonic = self.polyphonic;
        self.last = out;
        out
    }

    pub fn reset(&mut self) {
        self.masked.iter_mut().for_each(|m| *m = false);
        self.chord_hops = 0;
        self.single_hops = 0;
        self.polyphonic = false;
        self.countdown = 0;
        self.last = PolyphonyOutput::default();
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
                out = p.process(&mags, true);
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
                out = p.process(&mags, true);
            }
            assert!(out.polyphonic, "{chord:?}: {out:?}");
        }
        // Silence clears the flag after the hold.
        let mut p = stage();
        let mags = mags_of(&[(60.0, 0.3), (64.0, 0.3)]);
        for _ in 0..5 {
            p.process(&mags, true);
        }
        for _ in 0..5 {
            p.process(&mags, false);
        }
        assert!(!p.process(&mags, false).polyphonic);
    }
}
