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
//! an ensemble), and the tracker starts no note while it holds (the top-voice follower,
//! `top_voice.rs`, plays the chords' highest voice instead).
//!
//! Chord onsets: a struck chord's decay (a piano's) soon looks like one note to that per-hop
//! judge. So at each onset the stage keeps the spectrum from just before it and, a frame later,
//! searches what rose since (bins below `rise_min_hz` ignored: a hammer's thump) for a second
//! and a third voice: several notes rose together at a chord's onset, one at a melody note's
//! (the ringing ones decay). A leaky mean over onsets of "chord onset" is a second *chords*
//! decision, held between onsets through the decay; the stage's decision is either of the two.
//!
//! One voice at a time: a slower mean of the same onset measure, below `voices_below`, vetoes
//! the per-hop judge (a melody on ringing strings). Notes the tracker starts without an onset
//! (legato steps, swells: a choir's, a pad's) feed that mean too, measured against the spectrum
//! from before each note's dated onset ([`Polyphony::step`]).

use super::chord_judge::{self, ChordMeasures};
use crate::music::midi_to_hz;

/// The half-frequency comb is masked only when its partials are at least this many bins apart
/// (±1 bin each would otherwise mask everything).
const HALF_MIN_BINS: f32 = 6.0;

/// Where the slow mean of chord onsets starts (and restarts on `reset`): undecided, so a
/// melody needs a few onsets before the per-hop judge stops gating it.
const VOICES_START: f32 = 0.5;

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
    /// Chord onsets: the spectrum before an onset is the one this many hops before the onset
    /// hop (its frame holds none of the attack); 0 turns chord onsets off.
    pub rise_back_hops: u32,
    /// ... and the rise is measured this many hops after the onset (the frame then holds the
    /// new notes' attack).
    pub rise_delay_hops: u32,
    /// An onset is a chord's when the second candidate of its rise spectrum holds at least
    /// this share of the first's energy ...
    pub rise_ratio: f32,
    /// ... or its third candidate this share.
    pub rise_third_ratio: f32,
    /// An onset counts (as a chord's or one note's) only when what rose holds at least this
    /// share of the frame's energy (a vibrato or a noise burst leaves a scatter of small rises
    /// that is neither).
    pub rise_min_share: f32,
    /// An onset whose frame is at least this periodic (pitch confidence) counts as one note
    /// whatever rose: above the floor below, a low note's partials 4, 5, 6, 7 look like a
    /// chord, but its frame stays periodic (a bass guitar's onsets read 0.91, a piano chord's
    /// 0.62, medians).
    pub rise_max_confidence: f32,
    /// What rose below this frequency (Hz) is ignored: a piano hammer's thump rises there,
    /// and as a low candidate's "fundamental" it let one comb claim the whole chord.
    pub rise_min_hz: f32,
    /// A partial counts as risen only above everything the spectrum before the onset held
    /// within this many cents of it (0: bin by bin). A pitch bend (a glide into the new note,
    /// a pitch-bend vibrato) moves the partials of the notes still ringing under it, and a
    /// partial that moved by a few bins read as a new one: on a ringing steel guitar or
    /// celesta melody those moved partials made a second "voice" in what rose at most onsets.
    pub rise_spread_cents: f32,
    /// Weight of each onset in the leaky mean of chord onsets.
    pub onset_rate: f32,
    /// The onsets' *chords* decision rises when that mean reaches this ...
    pub onset_on: f32,
    /// ... and clears when it falls below this.
    pub onset_off: f32,
    /// Hops without a voiced frame after which the onsets' mean is forgotten (a pause: what
    /// comes next may be a melody).
    pub onset_forget_hops: u32,
    /// One voice at a time: weight of each counted onset in a slow leaky mean of "chord
    /// onset" (about ten onsets) ...
    pub voices_rate: f32,
    /// ... below which the per-hop judge's *chords* decision no longer counts (0: never). A
    /// melody on a ringing instrument (a steel guitar's strings, a vibraphone's bars) keeps its
    /// previous notes sounding under the new one, and the per-hop judge, seeing two or three
    /// voices, gated the tracker through whole steel-guitar melodies; but at their onsets one
    /// note rose (0-25 % of counted onsets look like a chord's on the dev split's steel
    /// guitars), where 35-65 % of a guitar chorale's do (the tune split).
    pub voices_below: f32,
    /// One voice by its periodicity: weight of each voiced hop in a leaky mean of "the hop's
    /// pitch confidence is at least `clear_confidence`" ...
    pub clear_rate: f32,
    /// ... (that confidence) ...
    pub clear_confidence: f32,
    /// ... at or above which the stage does not say *chords* (0: never). Four voices sound
    /// together in a chord and the frame is seldom strongly periodic (7–41 % of a guitar or
    /// piano chorale's voiced hops, 0–1 % of an organ's or string section's); a single bowed,
    /// plucked or blown line is (a viola or a bass 73–92 %), though in reverberation, in its
    /// low register or with the overtones of a swell the chord judge may see two or three
    /// voices in it.
    pub clear_above: f32,
    /// A search hop whose second voice lies at most this many semitones from the first counts
    /// as one voice in the chord judge's mean (0: off).
    pub near_semitones: u32,
    /// ... when the first voice is at least this note: lower down the search takes a low
    /// note's partials for neighbour candidates of its own.
    pub near_min_midi: u8,
    /// Melody steps: a note the tracker started without an onset (a legato step, a newcomer,
    /// a swell, a note out of silence) counts in the slow mean of `voices_below` as an onset
    /// does, by what rose since before its dated onset, looked up at most this many hops back
    /// (0: off). A slow-swelling melody (a choir, a pad, a bassoon) fires few onsets, so its
    /// mean stayed where it starts and the per-hop judge, hearing its reverberation as chords,
    /// gated it. Steps only ever feed that mean, never the onsets' own *chords* decision.
    pub step_back_hops: u32,
    /// Weight of each measured melody step in that mean (`voices_rate` is an onset's).
    pub step_rate: f32,
    /// ... and of a step where several voices rose.
    pub step_chord_rate: f32,
    /// A step where one voice rose counts only when the rest of the spectrum fell this much
    /// (dB) since before its onset (0: not asked): a melody's previous notes fade, a chord's
    /// held voices do not.
    pub step_fall_db: f32,
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
    /// This hop measured an onset's rise spectrum (`rise_second`, `rise_third` are fresh).
    pub rise_measured: bool,
    /// The last measured onset: second candidate's energy over the first's in the rise
    /// spectrum (what rose since just before the onset), first voice masked.
    pub rise_second: f32,
    /// ... and the third's (first and second voices masked).
    pub rise_third: f32,
    /// ... and the share of the frame's energy that rose.
    pub rise_share: f32,
    /// ... and its first voice (MIDI, 0 when none): the strongest harmonic comb in what rose,
    /// the new note of a melody (`onset_rise.rs`).
    pub rise_first: u8,
    /// Leaky mean over onsets of "this onset was a chord's".
    pub onset_share: f32,
    /// Slow leaky mean over onsets of "this onset was a chord's" (see
    /// [`PolyphonyConfig::voices_below`]).
    pub voices_share: f32,
    /// Leaky mean over voiced hops of a strongly periodic frame (see
    /// [`PolyphonyConfig::clear_above`]).
    pub clear_share: f32,
}

/// Polyphony stage.
pub struct Polyphony {
    /// Settings, fixed at construction.
    config: PolyphonyConfig,
    /// For each candidate, `harmonics` bin indices (0 = unused), computed in `new`.
    bins: Vec<u16>,
    /// Per-bin mask of the first voice's partials (scratch, allocated in `new`).
    masked: Vec<bool>,
    /// Scratch for [`Polyphony::best`] (`spectrum_bins`, allocated in `new`): per bin, the
    /// largest of it and its two neighbours (of the unmasked ones once masked), so that each
    /// candidate's partial is one read instead of three bounds-checked, masked ones.
    peaks: Vec<f32>,
    /// Scratch for [`Polyphony::best`] (`spectrum_bins + 3`, allocated in `new`): bin `i`'s
    /// magnitude at index `i + 1` (0 when masked), padded with a 0 at each end.
    free: Vec<f32>,
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
    /// The held *chords* decision of the per-hop judge.
    chords: bool,
    /// Ring of the last `rise_back_hops + 1` hops' Hann magnitudes, `spectrum_bins` each
    /// (allocated in `new`): the spectrum from just before an onset.
    past: Vec<f32>,
    /// Bins kept per hop in `past`, `before` and `rise` (the highest bin a candidate reads).
    spectrum_bins: usize,
    /// Slot of `past` written on the next hop.
    past_slot: usize,
    /// The spectrum from before the pending onset (`spectrum_bins`, allocated in `new`).
    before: Vec<f32>,
    /// Scratch: what rose since `before` (magnitudes, `spectrum_bins`, allocated in `new`).
    rise: Vec<f32>,
    /// Hops until the pending onset's rise is measured (None: no onset pending).
    rise_pending: Option<u32>,
    /// A melody step to measure on the next hop: how many hops back its `before` lies (see
    /// [`PolyphonyConfig::step_back_hops`]).
    step_pending: Option<u32>,
    /// Leaky mean over onsets of "chord onset" (see [`PolyphonyOutput::onset_share`]).
    onset_share: f32,
    /// The held *chords* decision from onsets.
    onset_chords: bool,
    /// Hops in a row without a voiced frame.
    quiet_hops: u32,
    /// Slow leaky mean over counted onsets of "chord onset" (see
    /// [`PolyphonyConfig::voices_below`]); kept through pauses, starts undecided (0.5).
    voices_share: f32,
    /// The release-tail stage's decision (`release_tails.rs`, set by [`Polyphony::set_tails`]):
    /// the input is a melody whose previous notes ring under the new ones.
    tails: bool,
    /// Leaky mean over voiced hops of a strongly periodic frame (see
    /// [`PolyphonyConfig::clear_above`]); starts at 0 (a chord may be the first thing played).
    clear_share: f32,
    /// The concert pitch the bins are made for (semitones from A4 = 440 Hz; `retune`).
    grid: f32,
    /// How `bins` is laid out (for `retune`).
    layout: super::salience::BinGrid,
}

/// A voice the search found: its candidate index and its energy over the first voice's.
type Voice = (usize, f32);

impl Polyphony {
    pub fn new(config: PolyphonyConfig) -> Self {
        let bin_hz = config.sample_rate / config.frame_len.max(1) as f32;
        let nyquist_bin = config.frame_len / 2;
        let (bins, spectrum_bins, layout) = super::salience::harmonic_table(
            config.sample_rate,
            config.frame_len,
            config.min_midi,
            config.max_midi,
            config.harmonics,
        );
        let slots = config.rise_back_hops.max(config.step_back_hops) as usize + 1;
        Self {
            config,
            bins,
            masked: vec![false; nyquist_bin + 2],
            peaks: vec![0.0; spectrum_bins],
            free: vec![0.0; spectrum_bins + 3],
            past: vec![0.0; spectrum_bins * slots],
            spectrum_bins,
            past_slot: 0,
            before: vec![0.0; spectrum_bins],
            rise: vec![0.0; spectrum_bins],
            rise_pending: None,
            step_pending: None,
            onset_share: 0.0,
            onset_chords: false,
            quiet_hops: 0,
            voices_share: VOICES_START,
            tails: false,
            clear_share: 0.0,
            grid: 0.0,
            layout,
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
    fn best(&mut self, mags: &[f32], use_mask: bool) -> Option<(usize, f32)> {
        // The strongest of the three bins around each bin; once masked, only of the bins the
        // first voice leaves free (its main lobes are 3 bins wide). A maximum is exact, so
        // this is the value the search read bin by bin before.
        // In two passes that vectorise: each bin's free value, then the maxima of three.
        let bins = self.peaks.len();
        self.free.fill(0.0);
        // Bins 0..=bins that `mags` has; past the mask's end a bin counts as masked (stays 0).
        let read = (bins + 1).min(mags.len());
        if let (Some(free), Some(mags)) = (self.free.get_mut(1..=read), mags.get(..read)) {
            if use_mask {
                for ((f, &m), &masked) in free.iter_mut().zip(mags).zip(&self.masked) {
                    *f = if masked { 0.0 } else { m.max(0.0) };
                }
            } else {
                for (f, &m) in free.iter_mut().zip(mags) {
                    *f = m.max(0.0);
                }
            }
        }
        // `free[i + 1]` holds bin i (`free[0]`, bin −1, stays 0).
        for (p, w) in self.peaks.iter_mut().zip(self.free.windows(3)) {
            *p = w[0].max(w[1]).max(w[2]);
        }
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
                let m = self.peaks.get(b).copied().unwrap_or(0.0);
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
            let b = super::rounding::round(base_hz * k as f32 / self.bin_hz) as usize;
            if base_hz.is_nan() || base_hz <= 0.0 || b >= bins || k > 512 {
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
    /// confidence and `chroma_peak` its largest chroma value (for the chord judge); `onset`
    /// says whether an onset fired on this hop (chord onsets).
    pub fn process(
        &mut self,
        mags: &[f32],
        voiced: bool,
        confidence: f32,
        chroma_peak: f32,
        onset: bool,
    ) -> PolyphonyOutput {
        if voiced {
            let clear = f32::from(u8::from(confidence >= self.config.clear_confidence));
            self.clear_share += (clear - self.clear_share) * self.config.clear_rate.clamp(0.0, 1.0);
        }
        let measured = self.onsets(mags, voiced, onset, confidence);
        if self.countdown > 0 {
            self.countdown -= 1;
            self.last.searched = false;
            self.last.rise_measured = measured;
            self.finish(&mut self.last.clone())
        } else {
            let out = self.search(mags, voiced, confidence, chroma_peak, measured);
            self.finish(&mut out.clone())
        }
    }

    /// Fills in the onsets' figures and the combined decision, and keeps the answer for the
    /// hops in between searches.
    fn finish(&mut self, out: &mut PolyphonyOutput) -> PolyphonyOutput {
        out.onset_share = self.onset_share;
        out.voices_share = self.voices_share;
        let one_voice = self.voices_share < self.config.voices_below;
        let periodic = self.config.clear_above > 0.0 && self.clear_share >= self.config.clear_above;
        out.clear_share = self.clear_share;
        out.chords = !self.tails && !periodic && ((self.chords && !one_voice) || self.onset_chords);
        self.last = *out;
        *out
    }

    /// The release-tail stage's decision (`release_tails.rs`): while set, the stage does not say
    /// *chords* (neither the per-hop judge's decision nor the chord onsets' counts). Applies
    /// from the next hop on.
    pub fn set_tails(&mut self, tails: bool) {
        self.tails = tails;
    }

    /// The tracker started a note without an onset whose dated onset lies `hops_ago` hops
    /// before this hop: measured on the next hop against the spectrum of two hops before that
    /// onset (a frame that ends before the new note), or of `step_back_hops` back when that is
    /// nearer (see [`PolyphonyConfig::step_back_hops`]).
    pub fn step(&mut self, hops_ago: u32) {
        if self.config.step_back_hops > 0 {
            self.step_pending = Some(hops_ago.saturating_add(2).min(self.config.step_back_hops));
        }
    }

    /// Chord onsets: remembers the spectrum of each hop, takes the one from before an onset,
    /// and `rise_delay_hops` after it measures what rose since (the new notes). Returns whether
    /// it measured on this hop.
    fn onsets(&mut self, mags: &[f32], voiced: bool, onset: bool, confidence: f32) -> bool {
        if self.config.rise_back_hops == 0 {
            return false;
        }
        let n = self.spectrum_bins;
        let slots = self.config.rise_back_hops.max(self.config.step_back_hops) as usize + 1;
        // The slot written `k` hops before this one (1 ≤ k ≤ slots).
        let ago = |past_slot: usize, k: usize| (past_slot + slots - k.clamp(1, slots)) % slots;
        if onset && self.rise_pending.is_none() {
            // The slot written `rise_back_hops + 1` hops ago.
            let from = ago(self.past_slot, self.config.rise_back_hops as usize + 1) * n;
            if let Some(src) = self.past.get(from..from + n) {
                self.before.copy_from_slice(src);
            }
        }
        // A melody step, when no onset's rise is pending: measured on this hop.
        let step = self
            .step_pending
            .take()
            .filter(|_| !onset && self.rise_pending.is_none());
        if let Some(k) = step {
            let from = ago(self.past_slot, k as usize) * n;
            if let Some(src) = self.past.get(from..from + n) {
                self.before.copy_from_slice(src);
            }
        }
        if onset {
            self.rise_pending = Some(self.config.rise_delay_hops);
        }
        if let Some(slot) = self
            .past
            .get_mut(self.past_slot * n..(self.past_slot + 1) * n)
        {
            // The spectrum, then zeros where `mags` is shorter (one copy, not bin by bin).
            let k = mags.len().min(n);
            if let (Some((head, tail)), Some(src)) = (slot.split_at_mut_checked(k), mags.get(..k)) {
                head.copy_from_slice(src);
                tail.fill(0.0);
            }
        }
        self.past_slot = (self.past_slot + 1) % slots;
        if voiced {
            self.quiet_hops = 0;
        } else {
            self.quiet_hops = self.quiet_hops.saturating_add(1);
            if self.quiet_hops >= self.config.onset_forget_hops.max(1) {
                self.onset_share = 0.0;
                self.onset_chords = false;
            }
        }
        if step.is_some() {
            // Only the slow mean of `voices_below`; the answer's onset figures stay the last
            // onset's (the onset-rise stage reads them).
            let kept = self.last;
            self.measure_rise(mags, confidence, false);
            self.last = kept;
            return false;
        }
        match self.rise_pending {
            Some(0) => {
                self.rise_pending = None;
                self.measure_rise(mags, confidence, true);
                true
            }
            Some(k) => {
                self.rise_pending = Some(k - 1);
                false
            }
            None => false,
        }
    }

    /// The rise spectrum (what grew since `before`) searched like a frame: second and third
    /// candidates against the first; updates the onsets' mean and decision (`onset`), or only
    /// the slow one-voice mean (a melody step).
    fn measure_rise(&mut self, mags: &[f32], confidence: f32, onset: bool) {
        let floor =
            ((self.config.rise_min_hz / self.bin_hz).max(0.0) as usize).min(self.rise.len());
        self.fill_rise(mags, floor, 0.0);
        let lo = ((midi_to_hz(f32::from(self.config.min_midi)) / self.bin_hz) as usize)
            .saturating_sub(1);
        let (mut rose, mut total) = (0.0f32, 0.0f32);
        for (&r, &m) in self.rise.iter().zip(mags).skip(lo) {
            rose += r * r;
            total += m * m;
        }
        let share = if total > 0.0 { rose / total } else { 0.0 };
        self.last.rise_share = share;
        let (first, mut second, mut third) = self.rise_voices();
        self.last.rise_first = first;
        // A second voice may be the ringing notes' partials moved by a bend: it must also be
        // found in what rose above the spectrum before spread by `rise_spread_cents`.
        let (ratio, third_ratio) = (self.config.rise_ratio, self.config.rise_third_ratio);
        let is_chord = |second: f32, third: f32| second >= ratio || third >= third_ratio;
        if self.config.rise_spread_cents > 0.0 && is_chord(second, third) {
            self.fill_rise(mags, floor, self.config.rise_spread_cents);
            let (_, s, t) = self.rise_voices();
            second = second.min(s);
            third = third.min(t);
        }
        self.last.rise_second = second;
        self.last.rise_third = third;
        if share < self.config.rise_min_share {
            return;
        }
        let chord = f32::from(u8::from(
            is_chord(second, third) && confidence < self.config.rise_max_confidence,
        ));
        if !onset && chord == 0.0 && self.config.step_fall_db > 0.0 {
            // One voice rose: it counts when the rest fell too (a melody's previous notes
            // fade; a chord's held voices stay).
            let (mut kept, mut old) = (0.0f32, 0.0f32);
            for (&m, &b) in mags.iter().zip(&self.before).skip(lo) {
                kept += m.min(b) * m.min(b);
                old += b * b;
            }
            let fell = old > 0.0 && kept < old * 10f32.powf(-self.config.step_fall_db / 10.0);
            if !fell {
                return;
            }
        }
        let rate = match (onset, chord > 0.0) {
            (true, _) => self.config.voices_rate,
            (false, false) => self.config.step_rate,
            (false, true) => self.config.step_chord_rate,
        };
        self.voices_share += (chord - self.voices_share) * rate.clamp(0.0, 1.0);
        if !onset {
            return;
        }
        self.onset_share += (chord - self.onset_share) * self.config.onset_rate.clamp(0.0, 1.0);
        if self.onset_share >= self.config.onset_on {
            self.onset_chords = true;
        } else if self.onset_share < self.config.onset_off {
            self.onset_chords = false;
        }
    }

    /// What rose since `before` into `rise` (magnitudes; 0 below bin `floor`): each bin above
    /// the highest bin of `before` within `spread_cents` of it (0: the same bin). Bounded
    /// loops (bins × the spread's width), no allocation.
    fn fill_rise(&mut self, mags: &[f32], floor: usize, spread_cents: f32) {
        let spread = (2f32.powf(spread_cents.max(0.0) / 1200.0) - 1.0).min(1.0);
        let before = &self.before;
        for (k, (r, &m)) in self
            .rise
            .iter_mut()
            .zip(mags.iter().chain(std::iter::repeat(&0.0)))
            .enumerate()
        {
            let w = (k as f32 * spread).round() as usize;
            let b = before
                .get(k.saturating_sub(w)..(k + w + 1).min(before.len()))
                .map_or(0.0, |s| s.iter().fold(0.0f32, |a, &v| a.max(v)));
            *r = if k < floor {
                0.0
            } else {
                (m * m - b * b).max(0.0).sqrt()
            };
        }
    }

    /// The first voice of what rose (`rise`, MIDI) and the second and third voices' shares,
    /// 0 when none.
    fn rise_voices(&mut self) -> (u8, f32, f32) {
        let rise = std::mem::take(&mut self.rise);
        let min_midi = self.config.min_midi;
        let voices = self.voices(&rise).map_or((0, 0.0, 0.0), |v| {
            (min_midi.saturating_add(v.0 as u8), v.2, v.4)
        });
        self.rise = rise;
        voices
    }

    /// The three-voice search on `mags`: (first, second, second/first energy, third,
    /// third/first energy); leaves the first two voices masked. None when no candidate.
    fn voices(&mut self, mags: &[f32]) -> Option<(usize, usize, f32, usize, f32)> {
        let (first, e1) = self.first_voice(mags)?;
        let (second, third) = self.next_voices(mags, e1);
        let (s, r2) = second.unwrap_or((0, 0.0));
        let (t, r3) = third.unwrap_or((0, 0.0));
        Some((first, s, r2, t, r3))
    }

    /// The strongest candidate of `mags` and its energy, with every partial of it masked (±1
    /// bin), and of half its frequency where those partials are far enough apart (at least
    /// `HALF_MIN_BINS`) not to cover the whole spectrum. None when no candidate.
    fn first_voice(&mut self, mags: &[f32]) -> Option<(usize, f32)> {
        let (first, e1) = self.best(mags, false)?;
        self.masked.iter_mut().for_each(|m| *m = false);
        let f1 = midi_to_hz((self.config.min_midi as usize + first) as f32 + self.grid);
        let base = if 0.5 * f1 / self.bin_hz >= HALF_MIN_BINS {
            0.5 * f1
        } else {
            f1
        };
        let bins = self.masked.len().min(mags.len() + 1);
        self.mask_comb(base, bins);
        Some((first, e1))
    }

    /// After [`Self::first_voice`] (energy `e1`): the second and third voices in what its mask
    /// leaves, each as (candidate, energy over the first's), `None` for one not found (and both
    /// when `e1` is not positive); leaves the second voice masked too.
    fn next_voices(&mut self, mags: &[f32], e1: f32) -> (Option<Voice>, Option<Voice>) {
        if e1 <= 0.0 || e1.is_nan() {
            return (None, None);
        }
        let Some((second, e2)) = self.best(mags, true) else {
            return (None, None);
        };
        let bins = self.masked.len().min(mags.len() + 1);
        let f2 = midi_to_hz((self.config.min_midi as usize + second) as f32 + self.grid);
        self.mask_comb(f2, bins);
        let third = self.best(mags, true).map(|(t, e3)| (t, e3 / e1));
        (Some((second, e2 / e1)), third)
    }

    /// A search hop: the chord judge's measures and the per-hop decisions.
    fn search(
        &mut self,
        mags: &[f32],
        voiced: bool,
        confidence: f32,
        chroma_peak: f32,
        measured: bool,
    ) -> PolyphonyOutput {
        let every = self.config.every_hops.max(1);
        self.countdown = every - 1;
        let mut out = PolyphonyOutput {
            searched: true,
            rise_measured: measured,
            rise_second: self.last.rise_second,
            rise_third: self.last.rise_third,
            rise_share: self.last.rise_share,
            rise_first: self.last.rise_first,
            ..PolyphonyOutput::default()
        };
        if voiced {
            if let Some((first, e1)) = self.first_voice(mags) {
                out.first = self.config.min_midi + first as u8;
                out.measures.left = self.unexplained(mags);
                let (second, third) = self.next_voices(mags, e1);
                if let Some((second, r2)) = second {
                    out.ratio = r2;
                    out.second = self.config.min_midi + second as u8;
                }
                if let Some((third, r3)) = third {
                    out.measures.third = r3;
                    out.third = self.config.min_midi + third as u8;
                }
                out.measures.second = out.ratio;
                out.measures.confidence = confidence;
                out.measures.chroma_peak = chroma_peak;
                out.probability = chord_judge::probability(&out.measures);
                // A second voice a semitone or a tone from the first is the previous melody
                // note fading under it or a chorus's detuned copy, seldom a chord's voice.
                let near = out.second > 0
                    && out.first >= self.config.near_min_midi
                    && u32::from(out.second.abs_diff(out.first)) <= self.config.near_semitones;
                if near {
                    out.probability = 0.0;
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

    /// Names notes in a concert pitch `grid` semitones from A4 = 440 Hz: the candidates'
    /// bins are made again in place. No allocation.
    pub fn retune(&mut self, grid: f32) {
        self.grid = grid;
        let end = self.spectrum_bins.saturating_sub(1);
        self.layout.fill(&mut self.bins, grid, end);
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
        self.past.iter_mut().for_each(|v| *v = 0.0);
        self.past_slot = 0;
        self.before.iter_mut().for_each(|v| *v = 0.0);
        self.rise.iter_mut().for_each(|v| *v = 0.0);
        self.rise_pending = None;
        self.step_pending = None;
        self.onset_share = 0.0;
        self.onset_chords = false;
        self.quiet_hops = 0;
        self.voices_share = VOICES_START;
        self.clear_share = 0.0;
        self.tails = false;
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
            rise_back_hops: 4,
            rise_delay_hops: 12,
            rise_ratio: 0.3,
            rise_third_ratio: 0.08,
            rise_min_share: 0.3,
            rise_min_hz: 200.0,
            rise_spread_cents: 0.0,
            rise_max_confidence: 0.8,
            onset_rate: 0.34,
            onset_on: 0.6,
            onset_off: 0.3,
            onset_forget_hops: 400,
            voices_rate: 0.1,
            voices_below: 0.2,
            clear_rate: 0.0,
            clear_confidence: 0.9,
            clear_above: 0.0,
            near_semitones: 0,
            near_min_midi: 0,
            step_back_hops: 0,
            step_rate: 0.3,
            step_chord_rate: 0.1,
            step_fall_db: 0.0,
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
        frame_mags(&frame)
    }

    /// Hann magnitudes of one 2048-sample frame, as the analyser computes them.
    fn frame_mags(frame: &[f32]) -> Vec<f32> {
        let n = frame.len();
        let mut stft = Stft::new(StftConfig {
            frame_len: n,
            fft_len: 2 * n,
            window: WindowShape::Rectangular,
        });
        stft.process(frame);
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
                out = p.process(&mags, true, 0.9, 0.3, false);
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
                out = p.process(&mags, true, 0.9, 0.3, false);
            }
            assert!(out.polyphonic, "{chord:?}: {out:?}");
        }
        // Silence clears the flag after the hold.
        let mut p = stage();
        let mags = mags_of(&[(60.0, 0.3), (64.0, 0.3)]);
        for _ in 0..5 {
            p.process(&mags, true, 0.9, 0.3, false);
        }
        for _ in 0..5 {
            p.process(&mags, false, 0.0, 0.0, false);
        }
        assert!(!p.process(&mags, false, 0.0, 0.0, false).polyphonic);
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
                out = p.process(&mags, true, 0.3, 0.3, false);
            }
            assert!(out.chords, "{chord:?}: {out:?}");
        }
        for midi in [40.0, 57.0, 69.0, 84.0] {
            let mags = mags_of(&[(midi, 0.3)]);
            let mut p = stage();
            let mut out = PolyphonyOutput::default();
            for _ in 0..30 {
                out = p.process(&mags, true, 0.98, 0.8, false);
                assert!(!out.chords, "{midi}: {out:?}");
            }
            assert!(out.chord_share < 0.3, "{midi}: {out:?}");
        }
    }

    /// The shipped settings of the two one-voice rules (`mod.rs`: `CLEAR_S`, `CLEAR_ABOVE`,
    /// `NEAR_SEMITONES`, `NEAR_MIN_MIDI`) on the test stage's one-hop searches.
    fn one_voice_rules(config: PolyphonyConfig) -> PolyphonyConfig {
        let hop_s = 128.0 / 48_000.0;
        PolyphonyConfig {
            clear_rate: hop_s / 3.0,
            clear_confidence: 0.9,
            clear_above: 0.55,
            near_semitones: 2,
            near_min_midi: 60,
            ..config
        }
    }

    /// A line whose frames are strongly periodic is one voice, whatever the chord judge makes
    /// of its spectrum: a viola in a reverberant hall or a low bass line read as two or three
    /// voices on most search hops, and the gate silenced the tracker for whole dev renders
    /// (`bach-bwv409-000-1-p41`, F1 0.48). A chord is seldom that periodic, so the same
    /// spectrum at a chord's confidence still gates.
    #[test]
    fn a_strongly_periodic_line_is_one_voice() {
        let mags = mags_of(&[(48.0, 0.3), (55.0, 0.3), (64.0, 0.3), (72.0, 0.3)]);
        // Hops gated over the last 2,000 of 3,000 (8 s; the periodicity share needs about 2.4 s
        // to reach its threshold).
        let run = |config: PolyphonyConfig, confidence: f32| {
            let mut p = Polyphony::new(config);
            (0..3000)
                .map(|_| p.process(&mags, true, confidence, 0.3, false).chords)
                .skip(1000)
                .filter(|&c| c)
                .count()
        };
        // The judge alone (the rules off) gates this spectrum even at a line's periodicity ...
        let alone = run(stage().config, 0.9);
        assert_eq!(alone, 2000);
        // ... the periodicity rule does not, once the stream showed it ...
        assert_eq!(run(one_voice_rules(stage().config), 0.9), 0);
        // ... and leaves the same spectrum at a chord's periodicity gated.
        assert_eq!(run(one_voice_rules(stage().config), 0.5), 2000);
    }

    /// A melody note under which the one before still sounds a semitone or a tone away (a
    /// choir's or a pad's release, a slur in reverberation) is one voice: as a second voice it
    /// gated whole choir renders of dev-split melodies (F1 0.22). A third or more apart it is
    /// still a second voice.
    #[test]
    fn a_neighbour_note_fading_under_the_next_is_not_a_second_voice() {
        let run = |config: PolyphonyConfig, below: f32| {
            let mut p = Polyphony::new(config);
            let mut gated = 0;
            for step in 0..40 {
                let top = 60.0 + f32::from(u8::try_from(step % 6).unwrap_or(0));
                for hop in 0..40 {
                    // The old note fades from half the new one's level.
                    let old = 0.15 * (1.0 - hop as f32 / 40.0);
                    let mags = mags_of(&[(top, 0.3), (top - below, old)]);
                    gated += usize::from(p.process(&mags, true, 0.6, 0.4, false).chords);
                }
            }
            gated
        };
        for below in [1.0, 2.0] {
            let before = run(stage().config, below);
            let after = run(one_voice_rules(stage().config), below);
            assert!(
                before > 800,
                "the judge alone, {below} below: {before} of 1600 hops"
            );
            // (What stays gated is a partial coincidence the search takes for a voice an
            // octave or more away.)
            assert!(after * 4 < before, "{below} below: {after} of 1600 hops");
        }
        let third = run(one_voice_rules(stage().config), 4.0);
        assert!(third > 800, "a third below: {third} of 1600 hops");
    }

    /// Magnitudes of `notes` plus a low thump (sines between 45 and 150 Hz).
    fn mags_with_thump(notes: &[(f32, f32)], thump: f32) -> Vec<f32> {
        let mut mags = mags_of(notes);
        if thump > 0.0 {
            let (sr, n) = (48_000.0f32, 2048usize);
            let frame: Vec<f32> = (0..n)
                .map(|i| {
                    [45.0f32, 62.0, 83.0, 118.0, 151.0]
                        .iter()
                        .map(|hz| (std::f32::consts::TAU * hz * i as f32 / sr).sin() * thump)
                        .sum()
                })
                .collect();
            for (m, l) in mags.iter_mut().zip(frame_mags(&frame)) {
                *m = (*m * *m + l * l).sqrt();
            }
        }
        mags
    }

    /// Runs `before` for a while, then an onset into `after`, until the rise is measured.
    fn onset_into(p: &mut Polyphony, before: &[f32], after: &[f32]) -> PolyphonyOutput {
        onset_at(p, before, after, 0.5)
    }

    /// [`onset_into`] with the frames' pitch confidence.
    fn onset_at(p: &mut Polyphony, before: &[f32], after: &[f32], conf: f32) -> PolyphonyOutput {
        for _ in 0..8 {
            p.process(before, true, conf, 0.3, false);
        }
        let mut out = p.process(after, true, conf, 0.3, true);
        for _ in 0..40 {
            if out.rise_measured {
                break;
            }
            out = p.process(after, true, conf, 0.3, false);
        }
        assert!(out.rise_measured, "{out:?}");
        out
    }

    /// A scale up and down whose last two notes ring on under each new one (decaying by 0.6 a
    /// note): calls `each(note index, spectrum before the note, spectrum with it)`.
    fn ringing_melody(mut each: impl FnMut(usize, &[f32], &[f32])) {
        let mut ringing: Vec<(f32, f32)> = vec![(55.0, 0.3)];
        let scale = [57.0, 59.0, 60.0, 62.0, 64.0, 66.0, 67.0, 69.0];
        for (i, &next) in scale.iter().chain(scale.iter().rev()).enumerate() {
            let before = mags_of(&ringing);
            ringing.iter_mut().for_each(|n| n.1 *= 0.6);
            ringing.push((next, 0.3));
            if ringing.len() > 3 {
                ringing.remove(0);
            }
            each(i, &before, &mags_of(&ringing));
        }
    }

    /// How many of the [`ringing_melody`]'s last six notes `start` (each note's measure) left
    /// judged *chords*.
    fn gated_late(mut start: impl FnMut(&[f32], &[f32]) -> PolyphonyOutput) -> usize {
        let mut gated = 0;
        ringing_melody(|i, before, after| {
            let out = start(before, after);
            if i >= 10 {
                gated += usize::from(out.chords);
            }
        });
        gated
    }

    /// Issue 13 (steel guitar, dev F1 0.789): a melody whose old notes ring on under the new
    /// one, on a sound of low periodicity, makes the per-hop judge see two or three voices and
    /// raise *chords*; at each onset one note rose, so the slow mean of chord onsets falls and
    /// the judge's decision stops counting. With that veto off (`voices_below = 0`, the old
    /// behaviour) the melody stays gated.
    #[test]
    fn a_ringing_melody_is_not_judged_chords() {
        let run = |voices_below: f32| {
            let mut p = Polyphony::new(PolyphonyConfig {
                voices_below,
                ..stage().config
            });
            gated_late(|before, after| onset_at(&mut p, before, after, 0.6))
        };
        assert!(run(0.0) >= 4, "the old gate should hold: {}", run(0.0));
        assert_eq!(run(0.2), 0, "a ringing melody judged chords");
    }

    /// A note the tracker started without an onset (`Polyphony::step`): `hops` frames of
    /// `before`, then the new frames for `delay` hops (the tracker's wait), then the step,
    /// dated `delay` hops back, measured on the next hop.
    fn step_into(
        p: &mut Polyphony,
        before: &[f32],
        after: &[f32],
        conf: f32,
        delay: u32,
    ) -> PolyphonyOutput {
        for _ in 0..8 {
            p.process(before, true, conf, 0.3, false);
        }
        for _ in 0..delay {
            p.process(after, true, conf, 0.3, false);
        }
        p.step(delay);
        p.process(after, true, conf, 0.3, false)
    }

    /// Issue 13 (dev-melody renders of a choir, a pad and a bassoon in reverberation, whose
    /// slow swells fire few onsets): the same ringing melody as above, its notes started by
    /// the tracker's legato path instead of onsets. Counted as melody steps (one voice rose
    /// since before each note's dated onset), they lower the slow mean, and the per-hop judge
    /// no longer gates the melody; with steps off (`step_back_hops = 0`, the old behaviour)
    /// the mean stays where it starts and the melody is gated.
    #[test]
    fn melody_steps_free_a_swelling_melody() {
        let run = |step_back_hops: u32| {
            let mut p = Polyphony::new(PolyphonyConfig {
                step_back_hops,
                ..stage().config
            });
            let gated = gated_late(|before, after| step_into(&mut p, before, after, 0.6, 20));
            (gated, p.voices_share)
        };
        let (old, old_share) = run(0);
        assert!(old >= 4, "the old gate should hold: {old}");
        assert!((old_share - VOICES_START).abs() < 1e-6, "{old_share}");
        let (new, share) = run(48);
        assert_eq!(new, 0, "a swelling melody judged chords (mean {share})");
    }

    /// The other way round: after such a melody has lowered the slow mean, chords played
    /// without onsets (a pad's) are chords again within a few changes: at each change the
    /// tracker's start measures several voices rising, which raises the mean.
    #[test]
    fn chords_after_a_melody_are_chords_again() {
        let mut p = Polyphony::new(PolyphonyConfig {
            step_back_hops: 48,
            ..stage().config
        });
        let mut last = Vec::new();
        ringing_melody(|_, before, after| {
            step_into(&mut p, before, after, 0.6, 20);
            last = after.to_vec();
        });
        assert!(
            p.voices_share < 0.2,
            "the melody should lower the mean: {}",
            p.voices_share
        );
        // A minor and D minor, no note a partial of another's.
        let chords: [&[(f32, f32)]; 2] = [
            &[(57.0, 0.3), (60.0, 0.3), (64.0, 0.3)],
            &[(62.0, 0.3), (65.0, 0.3), (69.0, 0.3)],
        ];
        let mut held = Vec::new();
        for i in 0..12 {
            let now = mags_of(chords[i % 2]);
            let mut out = step_into(&mut p, &last, &now, 0.5, 20);
            for _ in 0..40 {
                out = p.process(&now, true, 0.5, 0.3, false);
            }
            held.push(out.chords);
            last = now;
        }
        assert!(
            held.iter().skip(6).all(|&c| c),
            "pad chords after a melody not judged chords: {held:?} (mean {})",
            p.voices_share
        );
    }

    /// Chord onsets: a struck chord over silence or over a decaying chord is a chord's onset,
    /// even with a hammer thump under it (below `rise_min_hz`; without that floor the thump's
    /// low "note" claimed the whole chord: `rise_min_hz = 0` fails here); one new note over
    /// ringing ones is not; three chord onsets raise the decision while the per-hop judge cannot
    /// (its threshold is out of reach here).
    #[test]
    fn chord_onsets_are_told_from_a_new_note() {
        let chord = [(48.0, 0.4), (64.0, 0.3), (67.0, 0.3), (72.0, 0.3)];
        let quiet: Vec<(f32, f32)> = chord.iter().map(|&(m, a)| (m, a * 0.2)).collect();
        let silent = vec![0.0; 1025];
        for floor in [200.0, 0.0] {
            let mut p = Polyphony::new(PolyphonyConfig {
                chord_on: 2.0,
                rise_min_hz: floor,
                ..stage().config
            });
            let struck = mags_with_thump(&chord, 0.6);
            let a = onset_into(&mut p, &silent, &struck);
            let b = onset_into(&mut p, &mags_with_thump(&quiet, 0.0), &struck);
            let heard = |o: &PolyphonyOutput| o.rise_second >= 0.3 || o.rise_third >= 0.08;
            if floor > 0.0 {
                assert!(heard(&a) && heard(&b), "{a:?} {b:?}");
                assert!(!b.chords, "two onsets are not enough: {b:?}");
                let c = onset_into(&mut p, &mags_with_thump(&quiet, 0.0), &struck);
                assert!(c.chords && c.onset_share >= 0.6, "{c:?}");
            } else {
                assert!(
                    !(heard(&a) && heard(&b)),
                    "the thump no longer hides: {a:?} {b:?}"
                );
            }
        }
        // A low note: above the 200 Hz floor its partials 4-7 look like a chord, but its frame
        // is periodic, so its onsets count as one note's (the share floor is off here: the
        // synthetic note's strong fundamental would keep its rise under it).
        let mut p = Polyphony::new(PolyphonyConfig {
            chord_on: 2.0,
            rise_min_share: 0.0,
            ..stage().config
        });
        let silent = vec![0.0; 1025];
        for _ in 0..4 {
            let out = onset_at(&mut p, &silent, &mags_of(&[(33.0, 0.5)]), 0.95);
            assert!(!out.chords && out.onset_share == 0.0, "{out:?}");
        }
        // A melody note over two ringing ones: one note rose.
        let mut p = Polyphony::new(PolyphonyConfig {
            chord_on: 2.0,
            ..stage().config
        });
        let mut ringing = vec![(60.0, 0.1), (62.0, 0.15)];
        for next in [64.0, 65.0, 67.0, 69.0, 71.0] {
            let before = mags_of(&ringing);
            ringing.iter_mut().for_each(|n| n.1 *= 0.5);
            ringing.push((next, 0.3));
            let out = onset_into(&mut p, &before, &mags_of(&ringing));
            assert!(
                out.rise_second < 0.3 && out.rise_third < 0.08,
                "{next}: {out:?}"
            );
            assert!(!out.chords, "{next}: {out:?}");
            ringing.remove(0);
        }
    }

    /// Never-started notes on the dev split's steel guitars (`airds-book3-149-1-p25`, F1
    /// 0.407): a glide into a note (or a pitch-bend vibrato) bends every note of the channel,
    /// so the partials of the notes still ringing move by a few bins at the onset, and that
    /// move read as a second voice rising with the new note; the chord onsets then raised
    /// *chords* through the melody. Measured again above the spectrum before spread by a
    /// semitone (`rise_spread_cents`), only the new note rose. With the spread off (main's
    /// measure) three of these eight onsets hear a second voice. A chord struck over the decaying
    /// one, and a chord moving by steps over the ringing previous one, stay chord onsets.
    #[test]
    fn bent_ringing_partials_are_not_a_second_voice() {
        let heard = |o: &PolyphonyOutput| o.rise_second >= 0.3 || o.rise_third >= 0.08;
        let run = |cents: f32| {
            let mut p = Polyphony::new(PolyphonyConfig {
                chord_on: 2.0,
                rise_spread_cents: cents,
                ..stage().config
            });
            let mut ringing = vec![(57.0, 0.2), (59.0, 0.25)];
            let mut second = 0;
            for next in [60.0, 62.0, 64.0, 65.0, 67.0, 69.0, 71.0, 72.0] {
                let before = mags_of(&ringing);
                ringing.iter_mut().for_each(|n| n.1 *= 0.8);
                ringing.push((next, 0.3));
                // 40 ms into a glide from 60 cents below: the whole channel is still bent.
                let bent: Vec<(f32, f32)> = ringing.iter().map(|&(m, a)| (m - 0.4, a)).collect();
                let out = onset_into(&mut p, &before, &mags_of(&bent));
                second += usize::from(heard(&out));
                ringing.remove(0);
            }
            second
        };
        let plain = run(0.0);
        assert!(
            plain >= 3,
            "the bent partials should read as a voice: {plain}"
        );
        assert_eq!(run(100.0), 0, "a bent ringing melody heard as chords");
        let mut p = Polyphony::new(PolyphonyConfig {
            chord_on: 2.0,
            rise_spread_cents: 100.0,
            ..stage().config
        });
        let c_major = [(48.0, 0.4), (64.0, 0.3), (67.0, 0.3), (72.0, 0.3)];
        let quiet: Vec<(f32, f32)> = c_major.iter().map(|&(m, a)| (m, a * 0.2)).collect();
        let out = onset_into(&mut p, &mags_of(&quiet), &mags_of(&c_major));
        assert!(heard(&out), "a chord over its own decay: {out:?}");
        let d_minor = [(50.0, 0.4), (65.0, 0.3), (69.0, 0.3), (74.0, 0.3)];
        let mut both: Vec<(f32, f32)> = quiet.clone();
        both.extend_from_slice(&d_minor);
        let out = onset_into(&mut p, &mags_of(&quiet), &mags_of(&both));
        assert!(heard(&out), "a chord moving by steps: {out:?}");
    }
}
