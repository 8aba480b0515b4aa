//! Mains hum (AUDIO THREAD): a steady hum at 50 or 60 Hz and its harmonics is found in the
//! input and taken out of the analysis's copy of it.
//!
//! A guitar amplifier, a single-coil pickup or a ground loop adds the mains frequency and its
//! harmonics to a track, 30–50 dB under the playing. To the analysis that is a note: 50 Hz is
//! G1 + 35 cents, 60 Hz B♭1 + 49 cents, strongly periodic and above every level gate. Without
//! this stage a hum 40 dB under the phrase started a G1 or B♭1 note at the stream's start and
//! in every pause, and kept it until the next phrase: the musician's last note never ended,
//! so the pause that the answer waits for never came.
//!
//! *Finding it.* The input is averaged over `decimation` samples (a box filter, about 2 kHz
//! after it) and, for each family (50 and 60 Hz) and each of its first [`HARMONICS`]
//! harmonics, demodulated at that exact frequency; two leaky means of the result follow each
//! harmonic's complex amplitude, a fast one (`fast_s`) and a slow one (`slow_s`). A hum is a
//! phasor that stands still, so its slow mean is as large as the fast one; music near those
//! frequencies turns (a partial a few Hz away, vibrato, a decay) and averages out of the slow
//! mean. A family's *coherence* is the slow means' power over the slow mean of the fast
//! means' power (1 for a hum alone), counted only when its first [`LOW_HARMONICS`] harmonics
//! hold [`LOW_SHARE`] of it (a held F4, 0.8 Hz under 350 Hz, stands still at the seventh
//! alone). A family is a hum after `on_s` of coherence over `coherence_on` at a level over
//! `floor_db` and [`RUN_BLOCKS`] learning blocks of it alone (below); it is let go when its
//! slow level falls `off_drop_db` under the loudest it was clean at (switched off: music over
//! a hum only adds to that level).
//!
//! *Removing it.* The waveform taken off each input sample is the sum of the harmonics at a
//! *held* amplitude, learnt in 100 ms blocks (`block_s`) only while the input is mostly the hum
//! (its power at most `quiet` times the hum's), and a block only once the block after it was
//! quiet too (the power's mean lags an attack by a few milliseconds, and a few milliseconds of
//! a loud note near a harmonic would spoil the estimate for seconds). It starts from the mean
//! of the quiet blocks over which the hum was found. Under notes it stays as it was: the hum
//! does not change while the musician plays. A notch about 0.3 Hz wide at each harmonic.
//!
//! *The wait.* A pitch within [`MAINS_CENTS`] of a mains frequency (or its octave) is not
//! heard while that hum is removed (it is what is left of it) nor, for a few seconds, while
//! its coherence is building up (`may_be_hum`): in-tune notes lie 35 cents or more from every
//! mains frequency, and without the wait a hum heard from the stream's start, or first in a
//! pause, starts a note before it is known.
//!
//! Nothing is removed while no hum is found, so a clean input is analysed exactly as before.
//! The host's reset (or a bypass) loses the mains' phase: the hum is found again as at the
//! start, and the wait keeps its pitch from starting a note meanwhile.
//!
//! Cost: a box sum per input sample; per decimated sample, two families × [`HARMONICS`]
//! complex multiply-adds; while a hum is removed, [`HARMONICS`] multiply-adds per input
//! sample. No allocation: every table is a fixed array (about 45 kB), made with the analyser.

/// Harmonics followed per family (up to 500 Hz at 50 Hz, 600 Hz at 60 Hz).
pub const HARMONICS: usize = 10;

/// The mains frequencies.
pub const FAMILIES: [f32; 2] = [50.0, 60.0];

/// Learning blocks of the hum alone a hum is found over (at 100 ms, 0.3 s).
const RUN_BLOCKS: u32 = 3;

/// A harmonic's block mean is learnt from only when the next block's is this close to it
/// (squared distance over its power).
const AGREE: f32 = 0.1;

/// A hum's first harmonics ...
const LOW_HARMONICS: usize = 3;
/// ... hold at least this share of its power.
const LOW_SHARE: f32 = 0.3;

/// How close (cents) a pitch must be to a mains frequency to be taken for a hum's (in-tune
/// notes are 35 cents or more away).
pub const MAINS_CENTS: f32 = 15.0;

/// Rate (Hz) the box filter decimates to, at least.
const DECIMATED_RATE: f32 = 2_000.0;

/// The longest decimation (samples): the output table's length.
const MAX_DECIMATION: usize = 256;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct HumConfig {
    /// Whether the stage runs at all.
    pub enabled: bool,
    /// Input sample rate (Hz).
    pub sample_rate: f32,
    /// Time constant of the fast mean (s).
    pub fast_s: f32,
    /// Time constant of the slow mean (s), and of the removed amplitude's learning.
    pub slow_s: f32,
    /// Coherence over which a family is a hum ...
    pub coherence_on: f32,
    /// ... for this long (s) ...
    pub on_s: f32,
    /// ... at a slow level (dBFS, the hum's power as a sine's) over this.
    pub floor_db: f32,
    /// A pitch at a mains frequency is held back while that family's coherence is over this
    /// (`may_be_hum`).
    pub coherence_hold: f32,
    /// A hum is let go when its slow level falls this far (dB) under the loudest it was clean
    /// at (the amplifier switched off; music over it only adds to that level).
    pub off_drop_db: f32,
    /// The removed amplitude follows the input only while the input's power (after the box
    /// filter, over 10 ms) is at most this many times the hum's: in pauses, not under notes.
    pub quiet: f32,
    /// The learning is done in blocks this long (s: 0.1 is five periods of 50 Hz and six of
    /// 60, so that in a block's mean every other harmonic cancels); a block is learnt from only
    /// when it and the block after it were quiet throughout (the power's mean lags an attack
    /// by a few milliseconds, and a few milliseconds of a loud note would spoil the estimate).
    pub block_s: f32,
}

impl HumConfig {
    /// The shipped settings at `sample_rate`, overridden by `tuning` (`hum_*` names; `hum=0`
    /// turns the stage off).
    pub fn new(sample_rate: f32, tuning: &super::Tuning) -> Self {
        Self {
            enabled: tuning.get("hum", 1.0) > 0.5,
            sample_rate,
            fast_s: tuning.get("hum_fast_s", 0.1),
            slow_s: tuning.get("hum_slow_s", 1.0),
            coherence_on: tuning.get("hum_coherence_on", 0.7),
            on_s: tuning.get("hum_on_s", 0.5),
            coherence_hold: tuning.get("hum_coherence_hold", 0.5),
            floor_db: tuning.get("hum_floor_db", -100.0),
            off_drop_db: tuning.get("hum_off_drop_db", 12.0),
            quiet: tuning.get("hum_quiet", 4.0),
            block_s: tuning.get("hum_block_s", 0.1),
        }
    }
}

/// A complex number (re, im).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct C(f32, f32);

impl C {
    fn mul(self, o: C) -> C {
        C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn conj(self) -> C {
        C(self.0, -self.1)
    }
    fn norm2(self) -> f32 {
        self.0 * self.0 + self.1 * self.1
    }
    fn scale(self, k: f32) -> C {
        C(self.0 * k, self.1 * k)
    }
    fn toward(&mut self, to: C, a: f32) {
        self.0 += a * (to.0 - self.0);
        self.1 += a * (to.1 - self.1);
    }
    fn cis(theta: f64) -> C {
        C(theta.cos() as f32, theta.sin() as f32)
    }
}

/// One mains frequency and its harmonics.
#[derive(Debug, Clone, Copy)]
struct Family {
    /// Harmonics in use (those under the decimated band's edge), ≤ [`HARMONICS`].
    count: usize,
    /// `e^{-iω_h m D}` at the decimated clock `m` (renormalised every block).
    phasor: [C; HARMONICS],
    /// `e^{-iω_h D}`: the phasor's step.
    step: [C; HARMONICS],
    /// `1 / G(ω_h)`, the box filter's response undone.
    undo_box: [C; HARMONICS],
    /// `e^{iω_h k}` for the output samples `k` of one decimated step, `[k][h]`.
    within: [[C; HARMONICS]; MAX_DECIMATION],
    /// Fast mean of each harmonic's demodulated amplitude.
    fast: [C; HARMONICS],
    /// Slow mean: the hum's complex amplitude (one side, so the waveform is `2 Re`).
    slow: [C; HARMONICS],
    /// Slow mean of the fast means' power.
    fast_power: [f32; HARMONICS],
    /// The amplitude removed: the mean of the quiet run the hum was found over, then following
    /// the input at the slow rate only while little else sounds (see `HumConfig::quiet`) and
    /// the harmonic stands still: a note's partial a few Hz from a harmonic moves the means
    /// for as long as it sounds and a time constant after, and taking that for the hum would
    /// add it to a pause.
    held: [C; HARMONICS],
    /// Sum of the demodulated amplitudes over the current block, and whether it has been
    /// quiet so far.
    block: [C; HARMONICS],
    block_quiet: bool,
    /// The input's power under which a step is quiet (`quiet` times the hum's), set at each
    /// block's end.
    quiet_power: f32,
    /// The last whole quiet block's mean, waiting for the next block to be quiet too.
    candidate: Option<[C; HARMONICS]>,
    /// Sum and count of the blocks learnt from since the last loud one: the hum alone, what
    /// the removed amplitude starts from when the hum is found (the slow mean still holds
    /// the music before it).
    run: [C; HARMONICS],
    run_blocks: u32,
    /// Blocks summed in `run` per harmonic (those that stood still).
    run_n: [u32; HARMONICS],
    /// Learning blocks in a row the coherence has been over `coherence_on` at a level over
    /// `floor_db`.
    coherent_blocks: u32,
}

impl Family {
    fn new(hz: f32, sample_rate: f32, decimation: usize) -> Self {
        let d = decimation as f64;
        let rate = f64::from(sample_rate);
        let edge = 0.4 * rate / d;
        let mut f = Family {
            count: 0,
            phasor: [C(1.0, 0.0); HARMONICS],
            step: [C::default(); HARMONICS],
            undo_box: [C::default(); HARMONICS],
            within: [[C::default(); HARMONICS]; MAX_DECIMATION],
            fast: [C::default(); HARMONICS],
            slow: [C::default(); HARMONICS],
            fast_power: [0.0; HARMONICS],
            held: [C::default(); HARMONICS],
            block: [C::default(); HARMONICS],
            block_quiet: true,
            quiet_power: 0.0,
            candidate: None,
            run: [C::default(); HARMONICS],
            run_blocks: 0,
            run_n: [0; HARMONICS],
            coherent_blocks: 0,
        };
        for h in 0..HARMONICS {
            let hz_h = f64::from(hz) * (h + 1) as f64;
            if hz_h >= edge {
                break;
            }
            f.count = h + 1;
            let w = std::f64::consts::TAU * hz_h / rate;
            f.step[h] = C::cis(-w * d);
            // G(ω) = (1/D) Σ_k e^{iωk}
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for k in 0..decimation {
                re += (w * k as f64).cos();
                im += (w * k as f64).sin();
            }
            let (re, im) = (re / d, im / d);
            let n2 = re * re + im * im;
            f.undo_box[h] = C((re / n2) as f32, (-im / n2) as f32);
            for k in 0..decimation.min(MAX_DECIMATION) {
                f.within[k][h] = C::cis(w * k as f64);
            }
        }
        f
    }

    /// Coherence and slow level (power of the hum as a sum of sines, linear). The coherence
    /// is 0 unless the first [`LOW_HARMONICS`] harmonics hold [`LOW_SHARE`] of the slow
    /// power: a hum has its fundamental and its first overtones, while a held note near one
    /// harmonic (F4 is 0.8 Hz under 350 Hz) stands still there alone.
    fn coherence(&self) -> (f32, f32) {
        let (mut slow, mut fast, mut low) = (0.0f32, 0.0f32, 0.0f32);
        for h in 0..self.count {
            let p = self.slow[h].norm2();
            slow += p;
            fast += self.fast_power[h];
            if h < LOW_HARMONICS {
                low += p;
            }
        }
        let coherence = if fast > 1e-30 && low >= LOW_SHARE * slow {
            slow / fast
        } else {
            0.0
        };
        // A sine of amplitude a is 2|c| with |c| the one-sided amplitude: power a²/2 = 2|c|².
        (coherence.min(1.0), 2.0 * slow)
    }

    fn forget(&mut self) {
        self.phasor = [C(1.0, 0.0); HARMONICS];
        self.fast = [C::default(); HARMONICS];
        self.slow = [C::default(); HARMONICS];
        self.fast_power = [0.0; HARMONICS];
        self.held = [C::default(); HARMONICS];
        self.block = [C::default(); HARMONICS];
        self.block_quiet = true;
        self.quiet_power = 0.0;
        self.candidate = None;
        self.run = [C::default(); HARMONICS];
        self.run_blocks = 0;
        self.run_n = [0; HARMONICS];
        self.coherent_blocks = 0;
    }
}

/// The hum stage.
pub struct HumRemover {
    /// Settings, fixed at construction.
    config: HumConfig,
    /// Input samples per decimated sample.
    decimation: usize,
    /// Leaky-mean weights per learning block.
    fast_a: f32,
    slow_a: f32,
    /// Learning blocks of `on_s` (the decision is made once a block).
    on_blocks: u32,
    /// `floor_db` and `off_drop_db` as power ratios.
    floor_power: f32,
    drop_factor: f32,
    /// Learning blocks since the last reset (saturating).
    blocks_seen: u32,
    /// Whether `out` holds a waveform (else it is all zeros).
    out_live: bool,
    /// The 50 and 60 Hz families.
    families: [Family; 2],
    /// Mean of the decimated input's power over about 10 ms (half a period of the mains).
    power: f32,
    /// Its weight per decimated step.
    power_a: f32,
    /// Decimated steps per learning block, and steps into the current one.
    block_steps: u32,
    in_block: u32,
    /// Weight of one block in the removed amplitude's mean.
    block_a: f32,
    /// Box sum of the current decimated sample, and samples in it.
    sum: f32,
    filled: usize,
    /// The family being removed, and the loudest slow level it was clean at (linear power).
    active: Option<(usize, f32)>,
    /// The waveform removed over the current decimated step (`decimation` samples).
    out: [f32; MAX_DECIMATION],
}

impl HumRemover {
    /// Made when the analyser is made (fixed arrays, about 45 kB, no allocation after).
    pub fn new(config: HumConfig) -> Self {
        let rate = config.sample_rate.max(1.0);
        let decimation = ((rate / DECIMATED_RATE).floor() as usize).clamp(1, MAX_DECIMATION);
        let step_s = decimation as f32 / rate;
        let weight = |tau: f32| 1.0 - (-step_s / tau.max(step_s)).exp();
        let steps = |s: f32| (s / step_s).ceil().max(1.0) as u32;
        let block_s = steps(config.block_s) as f32 * step_s;
        let block_weight = |tau: f32| 1.0 - (-block_s / tau.max(block_s)).exp();
        let blocks = |s: f32| {
            (s / (steps(config.block_s) as f32 * step_s))
                .ceil()
                .max(1.0) as u32
        };
        Self {
            decimation,
            fast_a: block_weight(config.fast_s),
            slow_a: block_weight(config.slow_s),
            on_blocks: blocks(config.on_s),
            floor_power: 10f32.powf(config.floor_db / 10.0),
            drop_factor: 10f32.powf(-config.off_drop_db / 10.0),
            out_live: false,
            blocks_seen: 0,
            families: FAMILIES.map(|hz| Family::new(hz, rate, decimation)),
            sum: 0.0,
            power: 0.0,
            power_a: weight(0.01),
            block_steps: steps(config.block_s),
            in_block: 0,
            block_a: 1.0
                - (-(steps(config.block_s) as f32) * step_s / config.slow_s.max(step_s)).exp(),
            filled: 0,
            active: None,
            out: [0.0; MAX_DECIMATION],
            config,
        }
    }

    /// The mains frequency being removed (Hz), if any.
    pub fn removing_hz(&self) -> Option<f32> {
        self.active.map(|(f, _)| FAMILIES[f])
    }

    /// Whether a pitch of `hz` may be a hum's: it lies within [`MAINS_CENTS`] of a mains
    /// frequency (50 or 60 Hz) or of the octave over it, and that hum is being removed or is
    /// building up (its coherence at least `coherence_hold`). Returns that mains frequency.
    pub fn may_be_hum(&self, hz: f32) -> Option<f32> {
        if !self.config.enabled || hz <= 0.0 {
            return None;
        }
        let i = FAMILIES.iter().position(|&base| {
            [1.0, 2.0]
                .iter()
                .any(|k| (1200.0 * (hz / (base * k)).log2()).abs() <= MAINS_CENTS)
        })?;
        // Right after a reset nothing has been judged yet: the first blocks count as building.
        let building = self.blocks_seen < 2 * RUN_BLOCKS
            || self.families[i].coherence().0 >= self.config.coherence_hold;
        (building || self.active.is_some_and(|(f, _)| f == i)).then_some(FAMILIES[i])
    }

    /// Takes the input sample `x` (finite) and returns it with the hum taken out.
    #[inline]
    pub fn process(&mut self, x: f32) -> f32 {
        if !self.config.enabled {
            return x;
        }
        let k = self.filled;
        let y = x - self.out.get(k).copied().unwrap_or(0.0);
        self.sum += x;
        self.filled += 1;
        if self.filled >= self.decimation {
            let xd = self.sum / self.decimation as f32;
            self.sum = 0.0;
            self.filled = 0;
            self.step(xd);
        }
        y
    }

    /// One decimated sample: the demodulators, the decision, the next step's waveform.
    fn step(&mut self, xd: f32) {
        self.power += self.power_a * (xd * xd - self.power);
        let power = self.power;
        for fam in &mut self.families {
            fam.block_quiet &= power <= fam.quiet_power;
            for (sum, (z, step)) in fam
                .block
                .iter_mut()
                .zip(fam.phasor.iter_mut().zip(&fam.step))
                .take(fam.count)
            {
                sum.0 += z.0 * xd;
                sum.1 += z.1 * xd;
                *z = z.mul(*step);
            }
        }
        self.in_block += 1;
        let block_done = self.in_block >= self.block_steps;
        if block_done {
            self.in_block = 0;
            self.end_block();
        }
        if let Some((f, _)) = self.active {
            let fam = &self.families[f];
            // The hum at the step's first sample, then turned on by `within`.
            let mut start = [C::default(); HARMONICS];
            for (s, (held, z)) in start.iter_mut().zip(fam.held.iter().zip(&fam.phasor)) {
                *s = held.mul(z.conj());
            }
            for (v, within) in self.out.iter_mut().zip(&fam.within).take(self.decimation) {
                let mut s = 0.0;
                for (a, b) in start.iter().zip(within).take(fam.count) {
                    // The real part of the product.
                    s += a.0 * b.0 - a.1 * b.1;
                }
                *v = 2.0 * s;
            }
            self.out_live = true;
        } else if self.out_live {
            self.out = [0.0; MAX_DECIMATION];
            self.out_live = false;
        }
    }

    /// The learning block's end: the means move by its mean amplitudes, the block is kept as
    /// a candidate (or the one before it learnt from), and the hum is found or let go.
    fn end_block(&mut self) {
        self.blocks_seen = self.blocks_seen.saturating_add(1);
        let (fast_a, slow_a, block_a) = (self.fast_a, self.slow_a, self.block_a);
        let (quiet, block_n) = (self.config.quiet, self.block_steps.max(1) as f32);
        for fam in &mut self.families {
            let mut mean = [C::default(); HARMONICS];
            // Several parallel arrays per harmonic: indexed.
            #[allow(clippy::needless_range_loop)]
            for h in 0..fam.count {
                mean[h] = fam.block[h].mul(fam.undo_box[h]).scale(1.0 / block_n);
                fam.fast[h].toward(mean[h], fast_a);
                fam.slow[h].toward(mean[h], slow_a);
                let p = fam.fast[h].norm2();
                fam.fast_power[h] += slow_a * (p - fam.fast_power[h]);
                // Renormalised: the product drifts off the unit circle in f32.
                let n2 = fam.phasor[h].norm2();
                fam.phasor[h] = fam.phasor[h].scale(1.5 - 0.5 * n2);
            }
            if fam.block_quiet {
                if let Some(c) = fam.candidate {
                    for h in 0..fam.count {
                        // A hum stands still from block to block; a note's partial a few Hz
                        // from the harmonic, decaying near the hum's level, turns.
                        let d = C(mean[h].0 - c[h].0, mean[h].1 - c[h].1).norm2();
                        if d <= AGREE * c[h].norm2() {
                            fam.held[h].toward(c[h], block_a);
                            fam.run[h].0 += c[h].0;
                            fam.run[h].1 += c[h].1;
                            fam.run_n[h] += 1;
                        }
                    }
                    fam.run_blocks = fam.run_blocks.saturating_add(1);
                }
                fam.candidate = Some(mean);
            } else {
                fam.candidate = None;
                fam.run = [C::default(); HARMONICS];
                fam.run_n = [0; HARMONICS];
                fam.run_blocks = 0;
            }
            fam.block = [C::default(); HARMONICS];
            fam.block_quiet = true;
        }
        self.decide();
        // A non-finite state (it cannot come from finite input, but nothing is left to chance
        // on the audio thread) is forgotten.
        let finite = self.families.iter().all(|fam| {
            fam.held
                .iter()
                .chain(&fam.slow)
                .chain(&fam.fast)
                .all(|c| c.0.is_finite() && c.1.is_finite())
        });
        if !finite {
            self.families.iter_mut().for_each(Family::forget);
            self.active = None;
        }
        // Mostly the hum (a sum of sines of power `2 Σ |c_h|²`): not under a note. Once found,
        // the held amplitude's power (not the slow mean's: a note's partial near a harmonic
        // swells that too); before, the slow mean's.
        let active = self.active.map(|(f, _)| f);
        for (f, fam) in self.families.iter_mut().enumerate() {
            let amps = if active == Some(f) {
                &fam.held
            } else {
                &fam.slow
            };
            let hum: f32 = amps.iter().take(fam.count).map(|c| 2.0 * c.norm2()).sum();
            fam.quiet_power = quiet * hum;
        }
    }

    /// Finds or lets go of a hum.
    fn decide(&mut self) {
        let floor = self.floor_power;
        let mut best: Option<(usize, f32)> = None;
        for (i, fam) in self.families.iter_mut().enumerate() {
            let (coherence, level) = fam.coherence();
            if coherence >= self.config.coherence_on && level >= floor {
                fam.coherent_blocks = fam.coherent_blocks.saturating_add(1);
            } else {
                fam.coherent_blocks = 0;
            }
            let needed = self.on_blocks;
            // Found only over a stretch of the hum alone, which the removed amplitude starts
            // from.
            if fam.coherent_blocks >= needed
                && fam.run_blocks >= RUN_BLOCKS
                && best.is_none_or(|(_, l)| level > l)
            {
                best = Some((i, level));
            }
        }
        let was = self.active.map(|(f, _)| f);
        match self.active {
            Some((f, found)) => {
                let fam = &self.families[f];
                let (_, level) = fam.coherence();
                let drop = self.drop_factor;
                if level < found * drop {
                    self.active = None;
                } else if fam.coherent_blocks > 0 && level > found {
                    // Still a clean hum, louder than when found: the level to fall from.
                    self.active = Some((f, level));
                }
                // The other family louder and coherent: it is the hum.
                if let Some((b, l)) = best {
                    if self.active.is_some_and(|(f, _)| f != b && l > 4.0 * found) {
                        self.active = Some((b, l));
                    }
                }
            }
            None => {
                if let Some((b, l)) = best {
                    self.active = Some((b, l));
                }
            }
        }
        if let Some((f, _)) = self.active {
            let (on_blocks, input, quiet) = (self.on_blocks, self.power, self.config.quiet);
            let fam = &mut self.families[f];
            let power = |c: &[C; HARMONICS]| c.iter().map(|c| c.norm2()).sum::<f32>();
            // Found now, or a clean hum seen again at another level than the one removed (the
            // amplifier turned up): the slow mean is the hum.
            // (Only where the input is that hum alone, not under notes.)
            let moved = fam.coherent_blocks >= on_blocks && fam.run_blocks >= RUN_BLOCKS && {
                let (held, slow) = (power(&fam.held), power(&fam.slow));
                (slow > 2.0 * held || held > 2.0 * slow) && input <= quiet * 2.0 * slow
            };
            if was != Some(f) || moved {
                for h in 0..HARMONICS {
                    fam.held[h] = fam.run[h].scale(1.0 / fam.run_n[h].max(1) as f32);
                }
            }
        }
    }

    /// Forgets the signal (the host's reset, a bypass): the phase of the mains is lost with
    /// it.
    pub fn reset(&mut self) {
        self.families.iter_mut().for_each(Family::forget);
        self.sum = 0.0;
        self.power = 0.0;
        self.in_block = 0;
        self.filled = 0;
        self.active = None;
        self.out = [0.0; MAX_DECIMATION];
        self.out_live = false;
        self.blocks_seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remover(rate: f32) -> HumRemover {
        HumRemover::new(HumConfig::new(rate, &crate::analysis::Tuning::default()))
    }

    fn hum(rate: f32, hz: f32, amp: f32, i: usize) -> f32 {
        let t = i as f64 / f64::from(rate);
        (1..=6)
            .map(|h| {
                (std::f64::consts::TAU * f64::from(hz) * f64::from(h) * t + f64::from(h)).sin()
                    / f64::from(h)
            })
            .sum::<f64>() as f32
            * amp
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn a_steady_hum_is_found_and_removed() {
        for (rate, hz) in [
            (48_000.0, 50.0),
            (44_100.0, 60.0),
            (96_000.0, 50.0),
            (8_000.0, 60.0),
        ] {
            let mut r = remover(rate);
            let n = (5.0 * rate) as usize;
            let out: Vec<f32> = (0..n).map(|i| r.process(hum(rate, hz, 0.01, i))).collect();
            assert_eq!(r.removing_hz(), Some(hz), "{rate} {hz}");
            let before = rms(&(n - 4800..n)
                .map(|i| hum(rate, hz, 0.01, i))
                .collect::<Vec<_>>());
            let after = rms(&out[n - 4800..]);
            // At least 30 dB down.
            assert!(after < before * 0.03, "{rate} {hz}: {before} → {after}");
        }
    }

    #[test]
    fn music_is_no_hum_and_passes_untouched() {
        // A melody of harmonic tones at in-tune pitches, some near a harmonic of 50 Hz (G2,
        // G3, G4, D3, D4), with a slow vibrato on the held ones.
        let rate = 48_000.0;
        let mut r = remover(rate);
        let notes = [43.0f32, 55.0, 67.0, 50.0, 62.0, 65.0, 67.0, 55.0];
        let mut i = 0usize;
        for round in 0..3 {
            for &m in &notes {
                let f0 = 440.0 * 2f32.powf((m - 69.0) / 12.0);
                for k in 0..(0.5 * rate) as usize {
                    let t = k as f32 / rate;
                    let vib = if round == 1 {
                        0.003 * (5.5 * t * std::f32::consts::TAU).sin()
                    } else {
                        0.0
                    };
                    let x: f32 = (1..=6)
                        .map(|h| {
                            (std::f32::consts::TAU * f0 * (1.0 + vib) * h as f32 * t).sin()
                                / h as f32
                        })
                        .sum::<f32>()
                        * 0.2
                        * (-2.0 * t).exp();
                    let y = r.process(x);
                    assert_eq!(y, x, "sample {i}");
                    assert_eq!(r.removing_hz(), None);
                    i += 1;
                }
            }
        }
    }

    #[test]
    fn a_hum_under_music_stays_found_and_one_switched_off_is_let_go() {
        let rate = 48_000.0;
        let mut r = remover(rate);
        let mut i = 0usize;
        let mut next = |r: &mut HumRemover, music: f32, hum_amp: f32| {
            let t = i as f32 / rate;
            let x = hum(rate, 60.0, hum_amp, i)
                + music
                    * (std::f32::consts::TAU * 392.0 * t).sin()
                    * (std::f32::consts::TAU * 1.3 * t).sin().abs();
            i += 1;
            r.process(x)
        };
        for _ in 0..(3.0 * rate) as usize {
            next(&mut r, 0.0, 0.003);
        }
        assert_eq!(r.removing_hz(), Some(60.0));
        // Ten seconds of a loud tune over it.
        for _ in 0..(10.0 * rate) as usize {
            next(&mut r, 0.3, 0.003);
        }
        assert_eq!(r.removing_hz(), Some(60.0));
        // The amplifier switched off.
        for _ in 0..(3.0 * rate) as usize {
            next(&mut r, 0.0, 0.0);
        }
        assert_eq!(r.removing_hz(), None);
    }

    #[test]
    fn after_a_reset_the_hum_is_found_again() {
        let rate = 48_000.0;
        let mut r = remover(rate);
        let mut i = 0usize;
        while r.removing_hz().is_none() {
            r.process(hum(rate, 50.0, 0.01, i));
            i += 1;
        }
        let first = i;
        r.reset();
        assert_eq!(r.removing_hz(), None);
        let mut again = 0usize;
        while r.removing_hz().is_none() && again < first * 2 {
            r.process(hum(rate, 50.0, 0.01, i + 12_345));
            i += 1;
            again += 1;
        }
        assert!(
            again <= first + (0.2 * rate) as usize,
            "found after {first} samples, again after {again}"
        );
    }

    #[test]
    fn off_means_untouched() {
        let rate = 48_000.0;
        let tuning = crate::analysis::Tuning::parse("hum=0").expect("valid tuning");
        let mut r = HumRemover::new(HumConfig::new(rate, &tuning));
        for i in 0..(2.0 * rate) as usize {
            let x = hum(rate, 50.0, 0.01, i);
            assert_eq!(r.process(x), x);
        }
        assert_eq!(r.removing_hz(), None);
    }
}
