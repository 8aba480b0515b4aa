//! Pitch salience per semitone (AUDIO THREAD): the harmonic energy of every candidate note in the
//! Hann spectrum of the long frame, with a short history.
//!
//! The NSDF pitch of a mixture follows the louder note, so on slow attacks (bowed strings, winds,
//! voice) the new pitch wins only long after it began. The salience of the new note's own
//! harmonics starts rising much earlier; when the tracker decides on a legato note it asks this
//! stage where that rise began and dates the note there. It also answers whether a pitch has any
//! energy at its fundamental (a mixture's common subharmonic does not).

use crate::music::midi_to_hz;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct SalienceConfig {
    pub sample_rate: f32,
    /// Frame length of the Hann spectrum (bin `k` is at `k · rate / frame_len` Hz).
    pub frame_len: usize,
    /// Lowest and highest candidate MIDI notes.
    pub min_midi: u8,
    pub max_midi: u8,
    /// Harmonics summed per candidate.
    pub harmonics: usize,
    /// Hops of history kept.
    pub history_hops: usize,
}

/// The latest rise of one pitch's salience (see [`Salience::rise`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rise {
    /// Hops ago the salience last crossed a quarter of the way from the valley to now.
    pub quarter_ago: usize,
    /// Hops ago it last crossed half of the way.
    pub half_ago: usize,
    /// From the valley to now (dB).
    pub rise_db: f32,
}

/// Salience stage.
pub struct Salience {
    /// Settings, fixed at construction.
    config: SalienceConfig,
    /// For each candidate, `harmonics` bin indices (0 = unused), computed in `new`.
    bins: Vec<u16>,
    /// Ring of salience in dB, `history_hops × candidates`, allocated in `new`.
    history: Vec<f32>,
    /// Ring of each harmonic's energy (linear), `history_hops × candidates × harmonics`,
    /// allocated in `new`: a legato note is dated from the partials the old note lacks
    /// ([`Salience::exclusive_below_since`]); summed over all harmonics, a step of a semitone
    /// or two hides the new note's rise under the old one's neighbouring partials.
    partials: Vec<f32>,
    /// Slot of the newest row in `history`.
    newest: usize,
    /// The concert pitch the bins are made for (semitones from A4 = 440 Hz; see
    /// [`Salience::retune`]).
    grid: f32,
    /// Rows written since reset (saturating at `history_hops`).
    filled: usize,
}

/// The FFT bin of each harmonic of each candidate pitch, `candidates × harmonics` (candidate
/// `min_midi + c`, harmonic `h + 1` at `c * harmonics + h`); 0 where a harmonic falls outside
/// 1..Nyquist. Made once, when an analysis stage is made (it allocates).
pub fn harmonic_bins(
    sample_rate: f32,
    frame_len: usize,
    min_midi: u8,
    max_midi: u8,
    harmonics: usize,
) -> Vec<u16> {
    let candidates = (max_midi.saturating_sub(min_midi)) as usize + 1;
    let mut bins = vec![0u16; candidates * harmonics];
    BinGrid::new(sample_rate, frame_len, min_midi, harmonics).fill(&mut bins, 0.0, frame_len / 2);
    bins
}

/// How a table of harmonic bins is laid out (see [`harmonic_bins`]); its `fill` writes the
/// table again in place for a concert pitch `grid` semitones from A4 = 440 Hz (no allocation:
/// the stages retune their tables with it).
#[derive(Debug, Clone, Copy)]
pub struct BinGrid {
    pub sample_rate: f32,
    pub frame_len: usize,
    pub min_midi: u8,
    pub harmonics: usize,
}

impl BinGrid {
    /// The layout of a stage's table (see [`harmonic_bins`]).
    pub fn new(sample_rate: f32, frame_len: usize, min_midi: u8, harmonics: usize) -> Self {
        Self {
            sample_rate,
            frame_len,
            min_midi,
            harmonics,
        }
    }

    /// Candidate `c`, harmonic `h + 1` at `c * harmonics + h`; bins at or past `end` (and 0)
    /// are written as 0 (unused).
    pub fn fill(&self, bins: &mut [u16], grid: f32, end: usize) {
        let bin_hz = self.sample_rate / self.frame_len.max(1) as f32;
        let end = end.min(self.frame_len / 2).min(u16::MAX as usize);
        let harmonics = self.harmonics.max(1);
        for (c, row) in bins.chunks_mut(harmonics).enumerate() {
            let f0 = midi_to_hz((self.min_midi as usize + c) as f32 + grid);
            for (h, slot) in row.iter_mut().enumerate() {
                let b = (f0 * (h + 1) as f32 / bin_hz).round() as usize;
                *slot = if b >= 1 && b < end { b as u16 } else { 0 };
            }
        }
    }
}

/// [`harmonic_bins`], the spectrum length a stage reading them needs (the highest bin + 2) and
/// the table's layout (to make it again for another concert pitch): what the stages that
/// search their own candidates make once, when they are made.
pub fn harmonic_table(
    sample_rate: f32,
    frame_len: usize,
    min_midi: u8,
    max_midi: u8,
    harmonics: usize,
) -> (Vec<u16>, usize, BinGrid) {
    let bins = harmonic_bins(sample_rate, frame_len, min_midi, max_midi, harmonics);
    let spectrum_bins = bins.iter().copied().max().unwrap_or(0) as usize + 2;
    let layout = BinGrid::new(sample_rate, frame_len, min_midi, harmonics);
    (bins, spectrum_bins, layout)
}

impl Salience {
    pub fn new(config: SalienceConfig) -> Self {
        let candidates = (config.max_midi.saturating_sub(config.min_midi)) as usize + 1;
        let bins = harmonic_bins(
            config.sample_rate,
            config.frame_len,
            config.min_midi,
            config.max_midi,
            config.harmonics,
        );
        Self {
            config,
            bins,
            history: vec![-120.0; candidates * config.history_hops.max(1)],
            partials: vec![0.0; candidates * config.history_hops.max(1) * config.harmonics],
            newest: 0,
            grid: 0.0,
            filled: 0,
        }
    }

    fn candidates(&self) -> usize {
        (self.config.max_midi.saturating_sub(self.config.min_midi)) as usize + 1
    }

    /// Highest bin index read (the Hann magnitudes handed to `process` should reach it).
    pub fn bins_needed(&self) -> usize {
        self.bins.iter().copied().max().unwrap_or(0) as usize + 2
    }

    /// One hop: `mags` are Hann magnitudes of the long frame, bin 0 first.
    pub fn process(&mut self, mags: &[f32]) {
        let candidates = self.candidates();
        let rows = self.config.history_hops.max(1);
        self.newest = (self.newest + 1) % rows;
        self.filled = (self.filled + 1).min(rows);
        let h = self.config.harmonics;
        let row = self.newest * candidates;
        for c in 0..candidates {
            let mut energy = 0.0f32;
            let at = (row + c) * h;
            if let (Some(bins), Some(slots)) = (
                self.bins.get(c * h..(c + 1) * h),
                self.partials.get_mut(at..at + h),
            ) {
                for (&b, slot) in bins.iter().zip(slots.iter_mut()) {
                    // Each harmonic's energy (0 where it falls outside the spectrum).
                    *slot = if b == 0 {
                        0.0
                    } else {
                        let b = b as usize;
                        mags.get(b - 1..=b + 1)
                            .map(|s| s[0].max(s[1]).max(s[2]))
                            .map_or(0.0, |m| m * m)
                    };
                    energy += *slot;
                }
            }
            if let Some(slot) = self.history.get_mut(row + c) {
                *slot = energy;
            }
        }
        // The energies to dB in a second pass over the row, which vectorises.
        if let Some(slots) = self.history.get_mut(row..row + candidates) {
            for slot in slots {
                *slot = super::loudness::power_to_db_quick(*slot);
            }
        }
    }

    /// Salience of `pitch` (dB) `hops_ago` hops back, if remembered.
    pub fn value(&self, pitch: u8, hops_ago: usize) -> Option<f32> {
        if pitch < self.config.min_midi || pitch > self.config.max_midi || hops_ago >= self.filled {
            return None;
        }
        let rows = self.config.history_hops.max(1);
        let row = (self.newest + rows - hops_ago % rows) % rows;
        self.history
            .get(row * self.candidates() + (pitch - self.config.min_midi) as usize)
            .copied()
    }

    /// How many hops ago the salience of `pitch` began its latest rise: the last hop, within
    /// `max_hops`, where it was still below a quarter of the way (in dB) from the valley to now.
    /// `None` when there was no clear rise (less than `min_rise_db`).
    pub fn rise_start(&self, pitch: u8, max_hops: usize, min_rise_db: f32) -> Option<usize> {
        // "Now" always lies above the quarter mark, so a rise always has its quarter crossing.
        self.rise(pitch, max_hops, min_rise_db)
            .map(|r| r.quarter_ago)
    }

    /// Where the current rise of `pitch`'s salience began, looking back from now: how many hops
    /// ago it was last at least `drop_db` below its value now (searched within `max_hops`, at
    /// most the history), or `None` when it stayed within `drop_db` of now all that time. A
    /// legato note's new pitch has energy at partials the old note lacks, so this rise starts
    /// with the new note, long before the pitch estimate (which follows the louder note) moves.
    /// Bounded loop, no allocation.
    pub fn below_since(&self, pitch: u8, max_hops: usize, drop_db: f32) -> Option<usize> {
        let now = self.value(pitch, 0)?;
        let threshold = now - drop_db;
        (1..=max_hops.min(self.history_hops()))
            .map_while(|ago| self.value(pitch, ago).map(|v| (ago, v)))
            .find(|&(_, v)| v <= threshold)
            .map(|(ago, _)| ago)
    }

    /// Which harmonics of `pitch` (bit `h` for harmonic `h + 1`) lie more than `min_bins`
    /// spectrum bins from every harmonic of `other`: the new note's own partials in a legato
    /// step from `other`. All of them when `other` is `None`.
    pub fn exclusive_harmonics(&self, pitch: u8, other: Option<u8>, min_bins: f32) -> u32 {
        let h = self.config.harmonics.min(32);
        let all = if h >= 32 { u32::MAX } else { (1u32 << h) - 1 };
        let Some(other) = other else {
            return all;
        };
        let bin_hz = self.config.sample_rate / self.config.frame_len.max(1) as f32;
        let f = midi_to_hz(f32::from(pitch) + self.grid);
        let g = midi_to_hz(f32::from(other) + self.grid);
        if !(g > 0.0 && bin_hz > 0.0) {
            return all;
        }
        let mut mask = 0u32;
        for k in 0..h {
            let fk = f * (k + 1) as f32;
            let nearest = (fk / g).round().max(1.0) * g;
            let away = (fk - nearest).abs();
            if away > min_bins * bin_hz {
                mask |= 1 << k;
            }
        }
        mask
    }

    /// The linear energy of each harmonic of `pitch` `hops_ago` hops back, if remembered.
    pub fn partials(&self, pitch: u8, hops_ago: usize) -> Option<&[f32]> {
        if pitch < self.config.min_midi || pitch > self.config.max_midi || hops_ago >= self.filled {
            return None;
        }
        let rows = self.config.history_hops.max(1);
        let h = self.config.harmonics;
        let row = (self.newest + rows - hops_ago % rows) % rows;
        let at = (row * self.candidates() + (pitch - self.config.min_midi) as usize) * h;
        self.partials.get(at..at + h)
    }

    /// Energy (dB) of the harmonics of `pitch` in `mask` (see [`Salience::exclusive_harmonics`])
    /// `hops_ago` hops back, if remembered.
    pub fn partial_value(&self, pitch: u8, mask: u32, hops_ago: usize) -> Option<f32> {
        let energy = self
            .partials(pitch, hops_ago)?
            .iter()
            .enumerate()
            .filter(|(k, _)| *k < 32 && mask & (1 << k) != 0)
            .map(|(_, &e)| e)
            .sum::<f32>();
        Some(super::loudness::power_to_db(energy))
    }

    /// [`Salience::below_since`] on the harmonics of `pitch` in `mask` only: how many hops ago
    /// their energy was last at least `drop_db` below its value now, within `max_hops`.
    /// `None` without such a hop, or when `mask` is empty. Bounded loop, no allocation.
    pub fn exclusive_below_since(
        &self,
        pitch: u8,
        mask: u32,
        max_hops: usize,
        drop_db: f32,
    ) -> Option<usize> {
        if mask == 0 {
            return None;
        }
        let now = self.partial_value(pitch, mask, 0)?;
        let threshold = now - drop_db;
        (1..=max_hops.min(self.history_hops()))
            .map_while(|ago| self.partial_value(pitch, mask, ago).map(|v| (ago, v)))
            .find(|&(_, v)| v <= threshold)
            .map(|(ago, _)| ago)
    }

    /// The lowest energy (dB) of the harmonics of `pitch` in `mask` over the `max_hops` hops
    /// before now (at most the history), or `None` when nothing is remembered or `mask` is
    /// empty. Bounded loop, no allocation.
    pub fn exclusive_lowest(&self, pitch: u8, mask: u32, max_hops: usize) -> Option<f32> {
        if mask == 0 {
            return None;
        }
        let lowest = (1..=max_hops.min(self.history_hops()))
            .map_while(|ago| self.partial_value(pitch, mask, ago))
            .fold(f32::INFINITY, f32::min);
        lowest.is_finite().then_some(lowest)
    }

    /// The foot of a rise of the harmonics of `pitch` in `mask`: given `from_ago`, a hop of the
    /// rise (say where [`Salience::exclusive_below_since`] found it well below now), the latest
    /// hop at or before it (`from_ago ..= max_ago` hops back) whose energy was within
    /// `within_db` of the lowest energy there. A slow swell crosses a fixed mark under its
    /// final level long after it began; its foot, where its partials left the floor (or the
    /// old note's fading spill-over), is where it began. `from_ago` when nothing is
    /// remembered. Bounded loop, no allocation.
    pub fn exclusive_foot(
        &self,
        pitch: u8,
        mask: u32,
        from_ago: usize,
        max_ago: usize,
        within_db: f32,
    ) -> usize {
        let last = max_ago.min(self.history_hops().saturating_sub(1));
        if mask == 0 || last <= from_ago {
            return from_ago;
        }
        let floor = (from_ago..=last)
            .map_while(|ago| self.partial_value(pitch, mask, ago))
            .fold(f32::INFINITY, f32::min);
        if !floor.is_finite() {
            return from_ago;
        }
        (from_ago..=last)
            .map_while(|ago| self.partial_value(pitch, mask, ago).map(|v| (ago, v)))
            .find(|&(_, v)| v <= floor + within_db)
            .map_or(from_ago, |(ago, _)| ago)
    }

    /// How much of `pitch`'s harmonic energy took part in a dip at `dip_ago` hops back: the
    /// share (weighted by each harmonic's energy now) of its harmonics whose energy at the dip
    /// was at least `drop_db` under both their highest within `span` hops before it and their
    /// value now. A re-articulated note (bow change, new breath, new organ key press) dips in
    /// all its partials at once; the beats of detuned layers (an ensemble's chorus) dip each
    /// harmonic at its own time (harmonic `k` beats `k` times as fast), so only a few at a time.
    /// 0 when nothing is remembered. Bounded loops (harmonics × `span`), no allocation.
    pub fn dip_share(&self, pitch: u8, dip_ago: usize, span: usize, drop_db: f32) -> f32 {
        let last = (dip_ago + span).min(self.history_hops().saturating_sub(1));
        self.harmonic_share(pitch, dip_ago, |mask, now, dip| {
            let before = (dip_ago..=last)
                .map_while(|ago| self.partial_value(pitch, mask, ago))
                .fold(f32::NEG_INFINITY, f32::max);
            before - dip >= drop_db && now - dip >= drop_db
        })
    }

    /// How much of `pitch`'s harmonic energy rose since `ago` hops back: the share (weighted by
    /// each harmonic's energy now) of its harmonics whose energy now is at least `rise_db` over
    /// their energy then. A note struck again rises in all its partials at once; another
    /// voice's attack raises only the few partials it shares. 0 when nothing is remembered.
    /// Bounded loop (harmonics), no allocation.
    pub fn rise_share(&self, pitch: u8, ago: usize, rise_db: f32) -> f32 {
        self.harmonic_share(pitch, ago, |_, now, then| now - then >= rise_db)
    }

    /// The share of `pitch`'s harmonic energy (each harmonic weighted by its energy now) in the
    /// harmonics for which `counts(mask, energy now, energy ago hops back)` holds (dB). 0 when
    /// nothing is remembered.
    fn harmonic_share(&self, pitch: u8, ago: usize, counts: impl Fn(u32, f32, f32) -> bool) -> f32 {
        let harmonics = self.config.harmonics.min(32);
        let (mut counted, mut total) = (0.0f32, 0.0f32);
        for k in 0..harmonics {
            let mask = 1u32 << k;
            let (Some(now), Some(then)) = (
                self.partial_value(pitch, mask, 0),
                self.partial_value(pitch, mask, ago),
            ) else {
                return 0.0;
            };
            let weight = 10f32.powf(0.1 * now);
            total += weight;
            if counts(mask, now, then) {
                counted += weight;
            }
        }
        if total > 0.0 {
            counted / total
        } else {
            0.0
        }
    }

    /// Hops of history kept.
    pub fn history_hops(&self) -> usize {
        self.config.history_hops.max(1)
    }

    /// The latest rise of `pitch`'s salience within `max_hops`: from the lowest value (the
    /// valley) to now, with how many hops ago it last crossed a quarter and half of the way (in
    /// dB). `None` when it rose less than `min_rise_db`.
    pub fn rise(&self, pitch: u8, max_hops: usize, min_rise_db: f32) -> Option<Rise> {
        let now = self.value(pitch, 0)?;
        let mut valley = now;
        let mut valley_at = 0usize;
        for ago in 1..=max_hops {
            let Some(v) = self.value(pitch, ago) else {
                break;
            };
            if v < valley {
                valley = v;
                valley_at = ago;
            }
        }
        let rise_db = now - valley;
        if rise_db < min_rise_db {
            return None;
        }
        let crossed = |share: f32| {
            let threshold = valley + share * rise_db;
            (0..valley_at)
                .rev()
                .find(|&ago| self.value(pitch, ago).is_some_and(|v| v >= threshold))
                .unwrap_or(0)
        };
        Some(Rise {
            quarter_ago: crossed(0.25),
            half_ago: crossed(0.5),
            rise_db,
        })
    }

    /// Names notes in a concert pitch `grid` semitones from A4 = 440 Hz: the bins are made
    /// again in place (the history stays: it is kept per note). No allocation.
    pub fn retune(&mut self, grid: f32) {
        self.grid = grid;
        let c = &self.config;
        BinGrid::new(c.sample_rate, c.frame_len, c.min_midi, c.harmonics).fill(
            &mut self.bins,
            grid,
            c.frame_len / 2,
        );
    }

    pub fn reset(&mut self) {
        self.history.iter_mut().for_each(|v| *v = -120.0);
        self.partials.iter_mut().for_each(|v| *v = 0.0);
        self.filled = 0;
    }
}
