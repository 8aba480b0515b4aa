//! A new partial set under a sounding note (AUDIO THREAD). The pitch stage names the louder
//! note, so a short note with a slow attack under a louder, slowly fading old note (string
//! ensembles, pads, voice, in reverb) is never named: it is over before it is the louder one.
//! Its own partials, though, rise from its start while the old note's fade.
//!
//! This stage keeps a *memory* of what has sounded: per spectrum bin, the Hann magnitude held
//! at its peak and decaying by `decay` per search hop, fed with the spectrum of `lag_hops`
//! search hops ago (so a partial set that began within that lag is not yet in it). Vibrato and
//! reverberation stay under the memory (a vibrato sweeps its partials over the same bins every
//! cycle; a tail only fades); a new note's partials rise above it. While a note sounds, every
//! `every_hops` hops, the *rise* (energy above the memory) is searched for the harmonic comb
//! that holds most of it (as the polyphony stage searches a frame: energy of the first
//! partials, with energy at the fundamental), the sounding note's partials masked (widened by
//! `vibrato_share` of their frequency). That comb is a *newcomer* when its partials are mostly
//! new (`min_new_share` of their energy now is rise), it explains most of the rise
//! (`min_coherence`: one new note, not a scatter), and it is audible beside the sounding note
//! (`min_level` of its comb energy). Named `hold` search hops in a row, the tracker may start
//! it, dated from the rise of its own partials.
//!
//! Cost: on each search hop one pass over the kept bins (memory) and, while a note sounds, one
//! candidate search (about as much as one voice of the polyphony stage's search). No
//! allocation after `new`.

use crate::music::midi_to_hz;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct NewcomerConfig {
    pub sample_rate: f32,
    /// Frame length of the Hann spectrum (bin `k` is at `k · rate / frame_len` Hz).
    pub frame_len: usize,
    /// Lowest and highest candidate MIDI notes.
    pub min_midi: u8,
    pub max_midi: u8,
    /// Partials summed per candidate.
    pub harmonics: usize,
    /// The stage works on one hop in this many (0 or 1: every hop).
    pub every_hops: u32,
    /// A spectrum enters the memory this many search hops after it was heard (0 turns the
    /// stage off).
    pub lag_hops: usize,
    /// The memory's magnitudes are multiplied by this on each search hop (its decay).
    pub decay: f32,
    /// The sounding note's partials are masked over ± this share of their frequency (vibrato,
    /// glides), and at least ± 1 bin.
    pub vibrato_share: f32,
    /// A newcomer's partials hold at least this share of their energy now in their rise.
    pub min_new_share: f32,
    /// A newcomer's rise holds at least this share of all the rise (outside the mask).
    pub min_coherence: f32,
    /// A newcomer's comb energy is at least this share of the sounding note's.
    pub min_level: f32,
    /// A fundamental counts when its rise is at least this share of the strongest partial's.
    pub fundamental_floor: f32,
    /// Search hops in a row that must name the same newcomer.
    pub hold: u32,
}

/// The stage's answer for one hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NewcomerOutput {
    /// The newcomer (MIDI) named `hold` search hops in a row, if any.
    pub pitch: Option<u8>,
    /// Stream time of the first search hop of that row.
    pub first_named: u64,
    /// The last search hop's best comb of the rise (MIDI, 0 when none) and its measures, for
    /// traces: share of its energy that is new, share of all rise it holds, its energy over the
    /// sounding note's.
    pub best: u8,
    pub new_share: f32,
    pub coherence: f32,
    pub level: f32,
    /// This hop searched (the answer is fresh, not held from an earlier hop).
    pub fresh: bool,
}

/// New-partial-set stage.
pub struct Newcomer {
    /// Settings, fixed at construction.
    config: NewcomerConfig,
    /// For each candidate, `harmonics` bin indices (0 = unused), computed in `new`.
    bins: Vec<u16>,
    /// Bins kept per spectrum (the highest bin a candidate reads, + 2).
    spectrum_bins: usize,
    /// Bin width in Hz.
    bin_hz: f32,
    /// The memory of what sounded (magnitudes, `spectrum_bins`, allocated in `new`).
    memory: Vec<f32>,
    /// Ring of the last `lag_hops` search hops' spectra, waiting to enter the memory
    /// (`lag_hops × spectrum_bins`, allocated in `new`).
    delay: Vec<f32>,
    /// Slot of `delay` holding the oldest spectrum (written next).
    delay_slot: usize,
    /// Scratch: rise energy per bin above the memory, 0 where masked (`spectrum_bins`,
    /// allocated in `new`).
    rise: Vec<f32>,
    /// Scratch: per bin, the largest rise over it and its two neighbours (0 for the last
    /// bin): what a partial on that bin reads (`spectrum_bins`, allocated in `new`). Taken once
    /// per search instead of once per candidate partial.
    rise_near: Vec<f32>,
    /// Hops until the next search hop.
    countdown: u32,
    /// The comb named on the last search hops, how many in a row, and since when.
    named: Option<(u8, u32, u64)>,
    /// The last answer (returned on the hops in between).
    last: NewcomerOutput,
    /// The concert pitch the bins are made for (semitones from A4 = 440 Hz; `retune`).
    grid: f32,
    /// How `bins` is laid out (for `retune`).
    layout: super::salience::BinGrid,
}

impl Newcomer {
    pub fn new(config: NewcomerConfig) -> Self {
        let (bins, spectrum_bins, layout) = super::salience::harmonic_table(
            config.sample_rate,
            config.frame_len,
            config.min_midi,
            config.max_midi,
            config.harmonics,
        );
        Self {
            config,
            bins,
            spectrum_bins,
            bin_hz: config.sample_rate / config.frame_len.max(1) as f32,
            memory: vec![0.0; spectrum_bins],
            delay: vec![0.0; spectrum_bins * config.lag_hops.max(1)],
            delay_slot: 0,
            rise: vec![0.0; spectrum_bins],
            rise_near: vec![0.0; spectrum_bins],
            countdown: 0,
            named: None,
            last: NewcomerOutput::default(),
            grid: 0.0,
            layout,
        }
    }

    /// Names notes in a concert pitch `grid` semitones from A4 = 440 Hz: the candidates'
    /// bins are made again in place. No allocation.
    pub fn retune(&mut self, grid: f32) {
        self.grid = grid;
        let end = self.spectrum_bins.saturating_sub(1);
        self.layout.fill(&mut self.bins, grid, end);
    }

    /// Highest bin index read (the magnitudes handed to `process` should reach it).
    pub fn bins_needed(&self) -> usize {
        self.spectrum_bins
    }

    /// One hop: `mags` are Hann magnitudes of the long frame, bin 0 first; `sounding` is the
    /// tracker's note; `heard` the pitch the estimate names now (MIDI, when confident: its
    /// partials are explained too and masked like the sounding note's); `time` stamps the hop.
    pub fn process(
        &mut self,
        mags: &[f32],
        sounding: Option<u8>,
        heard: Option<u8>,
        time: u64,
    ) -> NewcomerOutput {
        if self.config.lag_hops == 0 {
            return NewcomerOutput::default();
        }
        if self.countdown > 0 {
            self.countdown -= 1;
            self.last.fresh = false;
            return self.last;
        }
        self.countdown = self.config.every_hops.max(1) - 1;
        self.remember(mags);
        let Some(old) = sounding else {
            self.named = None;
            self.last = NewcomerOutput::default();
            return self.last;
        };
        let mut out = NewcomerOutput {
            fresh: true,
            ..NewcomerOutput::default()
        };
        if let Some((pitch, new_share, coherence, level)) = self.search(mags, old, heard) {
            out.best = pitch;
            out.new_share = new_share;
            out.coherence = coherence;
            out.level = level;
            let c = &self.config;
            let named = new_share >= c.min_new_share
                && coherence >= c.min_coherence
                && level >= c.min_level
                && pitch != old
                && Some(pitch) != heard
                // Not an octave under the sounding (or heard) note: with that note's partials
                // masked, its sub-octave's odd partials are all that is left of the note itself
                // (an organ's 16' stop under its 8' key; `a_sub_octave_organ_stop_names_the_
                // played_key` started E4 inside E5 without this).
                && pitch.checked_add(12) != Some(old)
                && heard.is_none_or(|h| pitch.checked_add(12) != Some(h));
            self.named = match self.named {
                _ if !named => None,
                Some((p, n, since)) if p == pitch => Some((p, n.saturating_add(1), since)),
                _ => Some((pitch, 1, time)),
            };
        } else {
            self.named = None;
        }
        if let Some((p, n, since)) = self.named {
            if n >= self.config.hold.max(1) {
                out.pitch = Some(p);
                out.first_named = since;
            }
        }
        self.last = out;
        out
    }

    /// Moves the oldest delayed spectrum into the memory and puts `mags` in its slot.
    fn remember(&mut self, mags: &[f32]) {
        let n = self.spectrum_bins;
        let decay = self.config.decay;
        let at = self.delay_slot * n;
        if let Some(slot) = self.delay.get_mut(at..at + n) {
            // Bins past the end of `mags` are delayed as zeros.
            let within = mags.len().min(n).min(self.memory.len());
            let (memory_a, memory_b) = self.memory.split_at_mut(within);
            let (slot_a, slot_b) = slot.split_at_mut(within);
            for ((m, d), &x) in memory_a.iter_mut().zip(slot_a.iter_mut()).zip(mags) {
                *m = (*m * decay).max(*d);
                *d = x;
            }
            for (m, d) in memory_b.iter_mut().zip(slot_b.iter_mut()) {
                *m = (*m * decay).max(*d);
                *d = 0.0;
            }
        }
        self.delay_slot = (self.delay_slot + 1) % self.config.lag_hops.max(1);
    }

    /// Zeroes the rise over every partial of `midi` (± `vibrato_share`, at least ± 1 bin).
    fn mask(&mut self, midi: u8) {
        let f0 = midi_to_hz(f32::from(midi) + self.grid);
        let mut h = 1usize;
        while h <= 64 {
            let f = f0 * h as f32;
            let centre = f / self.bin_hz;
            if !(centre.is_finite() && centre < self.spectrum_bins as f32) {
                break;
            }
            let width = (f * self.config.vibrato_share / self.bin_hz).max(1.0);
            let lo = (centre - width).floor().max(0.0) as usize;
            let hi = ((centre + width).ceil() as usize).min(self.spectrum_bins - 1);
            if let Some(s) = self.rise.get_mut(lo..=hi) {
                s.iter_mut().for_each(|r| *r = 0.0);
            }
            h += 1;
        }
    }

    /// The comb holding most of the rise above the memory, the partials of `old` (and of
    /// `heard`) masked: (MIDI, new share, coherence, level against `old`), None when nothing
    /// rose.
    fn search(&mut self, mags: &[f32], old: u8, heard: Option<u8>) -> Option<(u8, f32, f32, f32)> {
        let c = self.config;
        let energy_at = |spectrum: &[f32], b: usize| -> f32 {
            super::stft::peak_near(spectrum, b).unwrap_or(0.0)
        };
        // Rise energy per bin (bins past the end of `mags` read 0), then the old note's comb
        // masked (zeroed).
        let within = mags.len().min(self.rise.len());
        let (rise_a, rise_b) = self.rise.split_at_mut(within);
        for ((r, &m), &k) in rise_a.iter_mut().zip(mags).zip(self.memory.iter()) {
            *r = (m * m - k * k).max(0.0);
        }
        for (r, &k) in rise_b.iter_mut().zip(self.memory.iter().skip(within)) {
            *r = (0.0 - k * k).max(0.0);
        }
        self.mask(old);
        if let Some(h) = heard.filter(|&h| h != old) {
            self.mask(h);
        }
        let lo = ((midi_to_hz(f32::from(c.min_midi)) / self.bin_hz) as usize).saturating_sub(1);
        let total: f32 = self.rise.iter().skip(lo).sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        // What each bin's partial reads: the largest rise over it and its neighbours.
        // (`energy_at` on `rise`, bin by bin: bin 0 reads bins 0 and 1, the last bin nothing.)
        let last = self.rise.len().saturating_sub(1);
        self.rise_near.iter_mut().for_each(|v| *v = 0.0);
        if let Some(first) = self.rise_near.first_mut() {
            *first = energy_at(&self.rise, 0);
        }
        if let Some(inner) = self.rise_near.get_mut(1..last) {
            for (near, w) in inner.iter_mut().zip(self.rise.windows(3)) {
                if let &[below, at, above] = w {
                    *near = 0.0f32.max(below).max(at).max(above);
                }
            }
        }
        let hs = c.harmonics.max(1);
        let mut best: Option<(usize, f32)> = None;
        for (cand, partials) in self.bins.chunks_exact(hs).enumerate() {
            let (mut energy, mut strongest, mut fundamental) = (0.0f32, 0.0f32, 0.0f32);
            for (k, &b) in partials.iter().enumerate() {
                if b == 0 {
                    continue;
                }
                let e = self.rise_near.get(b as usize).copied().unwrap_or(0.0);
                if k == 0 {
                    fundamental = e;
                }
                strongest = strongest.max(e);
                energy += e;
            }
            if strongest > 0.0
                && fundamental >= c.fundamental_floor * strongest
                && best.is_none_or(|(_, e)| energy > e)
            {
                best = Some((cand, energy));
            }
        }
        let (cand, rose) = best?;
        let comb = |midi: usize| -> f32 {
            self.bins.get(midi * hs..(midi + 1) * hs).map_or(0.0, |p| {
                p.iter()
                    .filter(|&&b| b > 0)
                    .map(|&b| energy_at(mags, b as usize).powi(2))
                    .sum()
            })
        };
        let now = comb(cand);
        let old_index = usize::from(old.saturating_sub(c.min_midi));
        let old_energy = if old >= c.min_midi && old <= c.max_midi {
            comb(old_index)
        } else {
            0.0
        };
        let pitch = c
            .min_midi
            .saturating_add(u8::try_from(cand).unwrap_or(u8::MAX));
        let new_share = if now > 0.0 {
            (rose / now).min(1.0)
        } else {
            0.0
        };
        let level = if old_energy > 0.0 {
            now / old_energy
        } else {
            1.0
        };
        Some((pitch, new_share, rose / total, level))
    }

    pub fn reset(&mut self) {
        self.memory.iter_mut().for_each(|v| *v = 0.0);
        self.delay.iter_mut().for_each(|v| *v = 0.0);
        self.rise.iter_mut().for_each(|v| *v = 0.0);
        self.rise_near.iter_mut().for_each(|v| *v = 0.0);
        self.delay_slot = 0;
        self.countdown = 0;
        self.named = None;
        self.last = NewcomerOutput::default();
    }
}
