//! Note tracking (AUDIO THREAD): turns per-hop pitch, level and onset features into note starts
//! and ends.
//!
//! States: silence → (onset or stable pitch) → note → (release, or a new note). Three ways in:
//! - *onset path*: the flux detector fired; as soon as the pitch after it is stable for a few
//!   hops the note starts, dated at the onset, or earlier when the estimates had already left
//!   the old pitch shortly before and stayed voiced since (a voice glides to the new note
//!   before it gets louder; a release into noise or reverb before the stroke is a gap, not a
//!   glide: `departure_gap_confidence`). While
//!   the onset waits, the run may spread `onset_max_spread` wide before it counts again (the
//!   first estimates of a struck or plucked note drift while the old note's ring fades from
//!   the windows). A new
//!   note at the pitch already sounding needs a level rise *and* a sharp spectral change: a
//!   level rise alone is tremolo (synth leads, vibraphone) and must not retrigger. A stroke
//!   no louder than the note it repeats breaks the waveform's periodicity instead: a dip of
//!   the pitch confidence after the onset may stand for the level rise
//!   (`repeat_dip_confidence`), and a repeat is dated near its own onset, never at the rise of
//!   the note before (`repeat_backdate_max`).
//!   With *Fast* tracking (the plugin's default) a new pitch after a sharp attack (flux well
//!   over the threshold) needs only `fast_stable_hops`, if its estimates agree closely and it
//!   is below C7. Sooner still, on the first twelve hops after the onset the attack reader
//!   (`attack_reader.rs`, a learned reading of the attack's partials) may name the new note
//!   at probability 0.95: it starts at once, dated at the onset, without the judge
//!   ([`TrackerInput::attack`]). The note it names may be the sounding one struck again, when
//!   the level rose and the flux peaked as a repeat's must (`attack_repeat`).
//! - *legato path*: no onset, but a different pitch stays stable for longer (slow attacks, slurs).
//!   After a note it is dated from the *rise of the new pitch's own partials* (`rise_date`): the
//!   last hop, looking back from the decision, where the energy at the new pitch's harmonics
//!   that lie away from every harmonic of the old note was still `rise_drop_db` under its level
//!   now, minus `rise_backdate` (the hop stamps the end of the long window). The pitch estimate
//!   follows the louder note, so a slow string, pad or voice note is confirmed 150–200 ms after
//!   it began, but its own partials rise from the start. Without such a rise it is dated from
//!   its *departure*, the last hop whose estimate was still near the old pitch, minus
//!   `departure_backdate`. From silence it is dated from the salience rise of the new pitch.
//! - *swell path*: the same pitch comes back after the level dipped and rose again (repeated
//!   bowed or blown notes without a flux onset). See *Re-articulation* below.
//!
//! Judge: every start a path wants is put to the learned judge (`judge.rs`), which also reads
//! the frame model's probability of the new note (`frame_net.rs`, passed to
//! [`NoteTracker::process`]); a vetoed pitch that keeps sounding is asked about again once its
//! run is `judge_retry` times as long.
//!
//! Settling attacks: after each onset the tracker watches whether the first stable pitch gives
//! way, within `settle_window_hops`, to one a semitone or two away (struck bars, tines and
//! plucked strings whose samples read a semitone off in their first hops). While the stream's
//! running share of such attacks is at least `settle_share`, a new pitch after an onset must
//! hold `settle_stable_hops` before any path starts it. The watch follows the estimates, not
//! the notes started, so waiting out the attack does not hide the habit. An attack's first
//! pitch counts from the hop *Fast* tracking could start it (`settle_quick`): a struck bar's
//! stroke may read a whole tone sharp for only 2–3 hops.
//!
//! Doubtful strokes: after a sharp attack, a hop whose estimate sits between semitones or is
//! weakly periodic holds the start (no *Fast* shortcut) until the run held `doubt_stable_hops`
//! or a centred, confident hop comes: a struck bar's stroke reads a neighbour semitone while
//! its inharmonic modes pull the estimate. Per stroke, so it needs no habit of the stream. The
//! attack reader's answer is held by an off-centre hop, and by a weakly periodic one only while
//! no note sounds (`doubt_reader_confidence`): over a ringing note a weakly periodic window is
//! the mixture the reader was fitted to read.
//!
//! Ringing notes: after an onset, a pitch (other than the sounding one) starts by the onset path
//! only if its own partials rose since the onset (`ring_rise_db`, `ring_any`): a struck or
//! plucked note rings on under the next one and only decays unless it is struck again, whether
//! the tracker started it or missed it. The legato path asks the same of the note before the
//! sounding one over the hops since its run began (`ring_legato`).
//!
//! Re-articulation (the swell path): a bowed, blown or organ note repeated at the same pitch has
//! no sharp attack: the old note's release and the room fill the gap, the new note swells in,
//! and the flux stays under its threshold. What it does have is a dip of the short-term level
//! of `swell_dip_db` under the note's peak and a rise of `swell_rise_db` out of it, back within
//! `swell_return_db` of the peak (the frame level below `rise_min_midi`), a dip at least
//! `swell_beat_margin_db` deeper than any swing the note showed before (the slow beats of an
//! ensemble's detuned layers, tremolo), and one that either took many partials down at once
//! (`swell_dip_share` of the pitch's harmonic energy dipped and rose `swell_partial_db`; a
//! beat dips one harmonic at a time) or came back with some broadband flux (bow or breath
//! noise, `swell_flux_ratio`). In a stream whose held notes keep their level (an organ, a
//! flute; `steadiness.rs`, `steady_swing_db`), a smaller rise and a younger note will do.
//!
//! Hysteresis: a note that faded below the gate starts again without an onset only once its
//! level is `rearm_db` above where it ended (a decaying note rippling around the gate is one note).
//!
//! Vibrato: while a note sounds, pitch estimates within `vibrato_semitones` of it count as that
//! note, so ±50 cents of vibrato stays one note.
//!
//! Steady runs: the legato and from-silence paths want `legato_stable_hops` (after a note) or
//! `silence_stable_hops` of *strong* hops (confidence ≥ `min_confidence`) in a row. A sound whose
//! notes overlap the previous note's long release and reverberation (an ensemble's chorused layers,
//! bowed legato) reads 0.5–0.85 hop after hop on the new note although every estimate names it
//! within a quarter tone (and some hops dip under `onset_min_confidence`, which restarts the
//! tracker's run). A *steady run* of `steady_hops` estimates at `steady_min_confidence` or more,
//! all on the run's semitone within `max_spread` (`steady_max_spread` while no onset waits: detuned
//! voices wander a quarter tone either way of their note), counts as strong enough (the hop that
//! decides must still be voiced; never for a step of an octave or a twelfth from the sounding note,
//! where such estimates are mostly its octave error, nor while the polyphony stage hears a second
//! voice; after a note, only when the new pitch's own partials rose, as `rise_date` finds them).
//!
//! Named share: when the estimates name a new semitone only in short bursts between readings
//! of the sounding note and values in between (a chorus of detuned voices rising under the old
//! note's release), no run forms. A semitone named on `named_share` of the recent hops (a
//! leaky share over `named_share_ms`, `named_share.rs`) takes over from the sounding note on a
//! hop that names it, when its own partials rose (`rise_date`, which also dates it) and the
//! sounding note's fell by `named_fall_db` (judged as a legato start).

use super::attack_habit::{AttackHabit, AttackHabitConfig};
use super::frame_net::FrameNet;
use super::judge::{Features, StartContext, StartJudge, StartPath};
use super::loudness::velocity_from_db;
use super::named_share::NamedShare;
use super::salience::Salience;
use super::steadiness::{self, HeldSwing, Steadiness};

/// Fixed settings, in hops and dB. Built from seconds by [`TrackerConfig::new`].
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// Samples per hop.
    pub hop: u64,
    /// Sample rate (Hz), for the judge's times in seconds.
    pub sample_rate: f32,
    /// Minimum pitch confidence for a hop to count as voiced.
    pub min_confidence: f32,
    /// Lower confidence accepted on the onset path, right after an attack.
    pub onset_min_confidence: f32,
    /// Minimum frame level (dBFS) for a hop to count as voiced; notes end below it.
    pub gate_db: f32,
    /// Stable hops needed after an onset.
    pub onset_stable_hops: u32,
    /// Stable hops needed after an onset for a pitch below `low_stable_max_midi` (at most
    /// `onset_stable_hops`). A low note's pitch reaches the estimator only once the window
    /// since the attack holds about two of its periods (20–40 ms below C3), and the hops that
    /// follow see mostly the same samples (a hop is a fraction of the period), so waiting
    /// `onset_stable_hops` more adds little evidence and only delays the note; plucked basses
    /// also raise less broadband flux than *Fast* tracking's `fast_flux_ratio` asks, so they
    /// wait the full time.
    pub low_stable_hops: u32,
    /// ... see `low_stable_hops` (MIDI; 0 turns it off).
    pub low_stable_max_midi: f32,
    /// *Fast* tracking: after a sharp attack (flux peak at least `fast_flux_ratio` × the onset
    /// threshold) a new pitch needs only this many stable hops ...
    pub fast_stable_hops: u32,
    /// ... see `fast_stable_hops`. Soft onsets (voice, bowed and blown notes, tremolo) keep the
    /// full wait: their first stable hops are more often a glide or the old note. The ratio is
    /// to the onset detector's threshold, whose floor came down from 0.15 to 0.08 (`onset.rs`;
    /// 3.75 would ask what 2 asked of the old floor in a quiet stream). It also says which
    /// attacks the doubt check (`doubt_off_centre`) and the settling watch (`settle_quick`)
    /// call sharp: at 2, with the lower floor, the doubt check held the attack reader back on
    /// more strokes (dev struck median 27.6 ms at 2, 27.0 at 3.75, 26.8 at 5; F1 within 0.0003).
    pub fast_flux_ratio: f32,
    /// ... whose estimates stay within this many semitones of each other (mixtures drift) ...
    pub fast_max_spread: f32,
    /// ... and is at most this pitch (MIDI): above it the short windows' first hops are mostly a
    /// struck bar's or string's high partials (vibraphone, guitar attacks), not a note.
    pub fast_max_midi: f32,
    /// Stable hops needed after an onset when the pitch is the one already sounding.
    pub repeat_stable_hops: u32,
    /// Stable hops needed without an onset after a note (legato path; 18 ms). Retuned when
    /// the onset detector's floor came down (`onset.rs`) and soft plucks moved to the onset
    /// path: on the development split 12 ms scored 0.9071, 15 ms 0.9082, 18 ms 0.9085, 22 ms
    /// 0.9082.
    pub legato_stable_hops: u32,
    /// Stable hops the from-silence path needs (12 ms), and the run that releases an
    /// overtaken note (see `release_overtaken`). At 18 ms, as `legato_stable_hops`, a drawbar
    /// organ's keys after silence lost one (test
    /// `a_drawbar_whose_lowest_stop_is_too_low_to_read_names_the_played_key`) and dev scored
    /// 0.0001 less.
    pub silence_stable_hops: u32,
    /// Stable hops needed without an onset for a jump of an octave (or octave + fifth).
    pub octave_stable_hops: u32,
    /// Voiced hops (confidence ≥ `onset_min_confidence`, spread within `max_spread`) that let the
    /// legato and from-silence paths start a run without `legato_stable_hops` of full
    /// confidence in a row (0 = never; see *Steady runs* in the module documentation).
    pub steady_hops: u32,
    /// Lowest confidence of a hop in a steady run (see `steady_hops`).
    pub steady_min_confidence: f32,
    /// How long an onset waits for a stable pitch (hops).
    pub onset_wait_hops: u32,
    /// Level rise (dB, short-term level) needed to restart the sounding pitch after an onset.
    pub retrigger_rise_db: f32,
    /// ... or a dip of the pitch confidence since the onset to at most this, from at least
    /// `repeat_dip_from` on the hop before it (≤ 0: the level rise alone). A note struck again
    /// restarts its waveform: the periodicity breaks for a hop or two even when the new stroke
    /// is no louder than the old one still sounding (an electric piano's or a guitar's repeats
    /// under a long release, a bass line's repeated notes). Dev's missed repeats at the
    /// sounding pitch fell from 472 to 448 for two more wrong repeats (0.5 to 0.8 scored
    /// alike); with no level rise asked at all (`retrigger_rise_db=0`) 42 more were found for
    /// 193 more wrong ones.
    pub repeat_dip_confidence: f32,
    /// See `repeat_dip_confidence`.
    pub repeat_dip_from: f32,
    /// ... not when the onset fired within this long (samples) after the sounding note was
    /// started: a note another path started before its own onset came through (the newcomer
    /// path, a legato start) breaks its periodicity at that onset too, and is not struck again.
    pub repeat_dip_after: u64,
    /// A repeat is dated at most this long (samples) before its onset: its soft-onset search
    /// for the pitch's rise otherwise finds the rise of the note it repeats when the new
    /// stroke is no louder (an electric piano's repeat 190 ms late, dated at the note before).
    pub repeat_backdate_max: u64,
    /// Spectral flux (× the onset threshold) needed to restart the sounding pitch: a level
    /// rise alone is tremolo.
    pub retrigger_flux_ratio: f32,
    /// ... and, under [`TrackerConfig::repeat_plain_flux`], this much of it from bins that
    /// were quiet before (`OnsetOutput::quiet_flux`, × the threshold): a beating synth's
    /// partials dip 20 dB and come back with nothing between them, a stroke sprays energy
    /// there. 0: not asked.
    pub repeat_quiet_ratio: f32,
    /// A repeat whose flux reaches this (× the threshold) needs no quiet-bin flux.
    pub repeat_plain_flux: f32,
    /// Onset path: a new pitch after an onset whose flux stayed under `repeat_plain_flux` with
    /// (almost) none of it between the partials (`repeat_quiet_ratio`: nothing was struck,
    /// blown or bowed anew; vibrato, tremolo, a beat or a slur moved the spectrum) must hold this
    /// many hops more before it starts. A neighbour a vibrato or a beat names for a few hops
    /// then never starts, and a slur waits about as long as on the legato path. Dev gained at
    /// every wait tried from 2 to 16 hops, the renders never tuned on at 8 and 12 (journal,
    /// *A synth lead's beats told from its repeats*).
    pub onset_unstruck_hops: u32,
    /// The attack reader's restart of the sounding pitch under `repeat_plain_flux` needs this
    /// much quiet-bin flux: a synth whose two oscillators beat to near silence (−25 dB and
    /// deeper) comes back as a clean attack the reader names, with nothing between its
    /// partials. Low: a tongued or bowed repeat brings little there (0.1, the repeat path's,
    /// lost clarinets' and saxophones' repeats on dev and `/tmp/j16`; 0.02 none).
    pub attack_repeat_quiet: f32,
    /// Swell path: the short-term level must dip this far below the note's peak ...
    pub swell_dip_db: f32,
    /// ... and then rise this much from the dip ...
    pub swell_rise_db: f32,
    /// ... and the dip must be this much (dB) deeper than the largest swing the note showed
    /// before its current peak: the slow ~10 dB beats of an ensemble's detuned layers and
    /// tremolo swing as deep hop after hop, a re-articulation dips deeper than they did ...
    pub swell_beat_margin_db: f32,
    /// ... and the level must have come back within this much (dB) of the note's peak: a new
    /// stroke or breath plays about as loud as the last one, while a synthesiser's envelope
    /// that sags late in a long note and swells a little again stays well under its attack ...
    pub swell_return_db: f32,
    /// When set (`swell_inherit=1`), a note the swell path started counts the dip that started
    /// it, less this (dB), as a swing it already showed (against tremolo, which dips as deep on
    /// every cycle). Off by default: a singer's or a section's notes repeated at one pitch dip
    /// alike, and each repeat's dip was then no deeper than the last one's, so after the first
    /// repeat the rest of the run was lost (dev's TimGM6mb synth voice, B♭ four times in a row
    /// 20 dB down and back: one note). Tremolo builds its own swing within `swell_min_age` (a
    /// cycle of 4 Hz or faster), which the guard below it reads.
    pub swell_inherit_db: Option<f32>,
    /// ... and either this share of the pitch's harmonic energy dipped and rose at once (see
    /// `Salience::dip_share`; a beat dips one harmonic at a time; ≤ 0: not asked) ...
    pub swell_dip_share: f32,
    /// ... by this much (dB) per harmonic ...
    pub swell_partial_db: f32,
    /// ... or the flux since the dip reached this many times the onset threshold (the bow or
    /// breath noise of a new attack, too weak for an onset).
    pub swell_flux_ratio: f32,
    /// ... and the dip came at least this long (samples) after the note began: a synthesiser's
    /// envelope may fall 10 dB after its attack and swell back within its first 200 ms, every
    /// note alike (FluidR3's square lead), which is the note's own shape, not a new stroke.
    pub swell_min_age: u64,
    /// ... each harmonic's level before the dip is its highest since the note's level peaked
    /// (at least `SWELL_SPAN_HOPS` back, at most the salience history): a note released into a
    /// gap longer than that span fades for the whole span, so the span alone held only the
    /// fading tail, a few dB over the dip, and a clear repeat (a piccolo's, 18 dB down and
    /// 155 ms apart) was never found. Off (`swell_span_peak=0`): the span alone.
    pub swell_span_peak: bool,
    /// Swell path in a steady stream (`steadiness.rs`): when the last notes' median swing while
    /// held was under this (dB; 0 = never), the rise out of the dip need only be
    /// `steady_rise_db` and the note `steady_min_age` old. An organ's, a flute's or a
    /// trumpet's repeat dips about 9 dB and rises 10 over 50 ms, often within 250 ms of the
    /// note before; a section's or a voice's notes swing that much on their own. Chosen on dev
    /// and `/tmp/jy` (swings under 4 / 6 dB: dev 0.9119 / 0.9114 against 0.9118 at 5).
    pub steady_swing_db: f32,
    /// See `steady_swing_db` (7 / 11 dB scored within 0.0002 of 9 on dev, `/tmp/jy` and
    /// `/tmp/jq`).
    pub steady_rise_db: f32,
    /// See `steady_swing_db` (samples; 0.2 s. With the 96-hop lag and 0.135 s notes, 0.15 s
    /// scored best; once the shorter lag and notes let fast tunes teach the habit, 0.15 s also
    /// restarted a FluidR3 square lead whose envelope swells back within 200 ms, and 0.2 s
    /// kept the gain without it).
    pub steady_min_age: u64,
    /// Hops a level waits before it counts for the sounding note (1 to `steadiness::LAG`; 48,
    /// about 0.13 s: long enough for most legato decisions after the next note's onset, short
    /// enough that a reel's notes of 0.33 s teach the habit. 96 with notes from 0.135 s scored
    /// dev 0.9118, `/tmp/jy` 0.8882, `/tmp/jq` 0.8936; 48 with notes from 0.08 s and the 0.2 s
    /// age 0.9117, 0.8884, 0.8943; 64 with notes from 0.1 s 0.9118, 0.8883).
    pub steady_lag_hops: usize,
    /// A note's swing is measured from this long (samples) after its onset, past its attack.
    pub steady_skip: u64,
    /// ... and counts for the habit once this many hops of it were measured.
    pub steady_min_held_hops: u32,
    /// *Fast* tracking: the attack reader may name the sounding note struck again, and the
    /// repeat starts at once, as a new note it names does (`attack_repeat`; off: the repeat
    /// waits for `repeat_stable_hops` of strong estimates, about 40 ms after the stroke) ...
    pub attack_repeat: bool,
    /// ... when the level rose `retrigger_rise_db` since the onset and the flux peaked at this
    /// many times the onset threshold (the reader's reading is the rest of the evidence, so
    /// less than the `retrigger_flux_ratio` a repeat without it needs).
    pub attack_repeat_flux: f32,
    /// A note ends when the short-term level falls this far below its peak.
    pub release_drop_db: f32,
    /// A note ends after this many unvoiced hops.
    pub unvoiced_release_hops: u32,
    /// Pitch estimates within this distance (semitones) of the sounding note belong to it.
    pub vibrato_semitones: f32,
    /// Below this pitch (MIDI) level rises are judged on the whole frame, not the short window.
    pub rise_min_midi: f32,
    /// A run whose estimates spread wider than this (semitones) is a glide, not a new pitch.
    pub max_spread: f32,
    /// While an onset waits for its pitch, a run may spread this wide (semitones; `max_spread`
    /// counts when this is lower, so 0 turns it off) before it counts again. In the first
    /// 10–30 ms of a struck or plucked note the windows still hold the previous note's ring,
    /// which fades under the new one: the estimates on the new semitone drift by a quarter to
    /// a third of a semitone towards it as it goes (a string's pitch also falls a little as
    /// the pluck's amplitude decays), and a run that restarted whenever it passed `max_spread`
    /// started the note late, or lost it. Without an onset a wide run is a glide between two
    /// notes (a voice, a slur), and `max_spread` holds. Dev: F1 0.863 → 0.864, struck/plucked
    /// median latency 30.8 → 30.6 ms (0.5: see the commit message).
    pub onset_max_spread: f32,
    /// A steady run (see `steady_hops`) may spread this wide (semitones) while no onset waits
    /// (`max_spread` counts when this is lower, so `steady_max_spread=0` turns it off). A choir,
    /// string ensemble or pad is several detuned voices with their own vibrato: on a note that
    /// rises under the previous one's release the estimate wanders a quarter tone either way
    /// of it hop after hop (a choir's A3 read 56.9, 57.3, 57.1, 56.9 at confidence 0.5–0.8),
    /// and a steady run restarted at every `max_spread` never held `steady_hops`: the note
    /// was never found (the largest share of the misses after another note on the slow
    /// families of dev). Half a semitone keeps the run on its semitone (every estimate within
    /// a quarter tone of the run's middle). While an onset waits, the onset path decides and
    /// `max_spread` holds: a struck or plucked note's first estimates drift towards the new
    /// pitch as the old ring fades, and a wide steady run there started a neighbour.
    pub steady_max_spread: f32,
    /// Share of recent hops (see `named_share_rate`) whose estimate must name a semitone for
    /// it to take over from the sounding note without any run (`named_share=0` turns it off;
    /// see `named_share.rs`). A choir, string ensemble or pad note rising under the previous
    /// one's release is named only in bursts of 2–8 hops between readings of the old note and
    /// values in between, so neither a strong nor a steady run forms and the note was never
    /// found (the largest miss class on the slow families of dev after legato2). Guarded by
    /// the new semitone's own partials rising (`rise_of`) and the old note's falling
    /// (`named_fall_db`), not an octave or twelfth away (the old note's octave errors), and by
    /// the judge.
    pub named_share: f32,
    /// Leak per hop of the named share: hop / `named_share_ms` (the window it counts over).
    pub named_share_rate: f32,
    /// How many hops the named share covers (`named_share_ms`): a new note is not started on
    /// it before the sounding note is that old (its share then still counts the note before),
    /// and the old note's fall is looked for over that many hops.
    pub named_share_hops: usize,
    /// How far (dB) the sounding note's own partials (those away from the new semitone's) must
    /// have fallen from their highest over the last `named_share_hops` for the named share to
    /// start the new note: a mixture of voices moving under a held note names other semitones
    /// now and then while the held note stays as loud.
    pub named_fall_db: f32,
    /// How much louder (dB, mean per partial) the next semitone or the one after, further from
    /// the sounding note, must be than the new pitch in their own partials for the new pitch
    /// to be a reading in between (`between_db=0` turns the check off). When a note sounds
    /// on under the next one a step away (a voice's or an ensemble's release, a room's
    /// reverberation), the window holds both at similar levels and the period estimate lands
    /// between them: a choir going from F#3 to E3 read 53.3–53.9 for 80 ms and F3 started,
    /// then E3 as a second note (on dev's voice files two of every three extras lie a semitone
    /// or two from the note sung). A semitone read in between has no partials of its own; the
    /// note the estimate moves to has. Such a start waits (onset and legato paths) until the
    /// estimate reaches that note, which then starts dated from its own rise.
    pub between_db: f32,
    /// How far (dB) the note beyond must have risen in its own partials over the last
    /// `salience_lookback_hops` for [`TrackerConfig::between_db`] to hold a start back: a
    /// note coming in, not an earlier note of a struck or plucked sound ringing on.
    pub between_rise_db: f32,
    /// How far (dB) under the reading's salience the note beyond may be for
    /// [`TrackerConfig::between_db`] to count it: a mixture's two notes are about as loud.
    pub between_level_db: f32,
    /// Whether [`TrackerConfig::between_db`] also holds back onset-path starts.
    pub between_onset: bool,
    /// Onset-path notes are dated this many samples before the hop where flux fired.
    pub onset_backdate: u64,
    /// Legato-path notes are dated this many samples before the first hop of the new pitch
    /// (when the salience history shows no clear rise).
    pub legato_backdate: u64,
    /// Legato-path notes dated from the salience rise are moved this much earlier still.
    pub salience_backdate: u64,
    /// How far back (hops) the salience rise is searched.
    pub salience_lookback_hops: usize,
    /// The salience search stops this many samples after the previous note's onset.
    pub salience_margin: u64,
    /// Smallest salience rise (dB) that counts.
    pub salience_min_rise_db: f32,
    /// Date legato notes from the salience rise.
    pub use_salience: bool,
    /// Rise dating: a note is dated from the last hop, looking back from the decision, where
    /// the salience of its pitch was still this far (dB) below its value at the decision ...
    pub rise_drop_db: f32,
    /// ... searched at most this many hops back (and never before the previous note began) ...
    pub rise_lookback_hops: usize,
    /// ... minus this many samples (the hop stamps the end of the long window; a new note's
    /// partials fill enough of it to clear the mark about this long after they begin).
    pub rise_backdate: u64,
    /// In a step from another pitch only the new pitch's harmonics at least this many spectrum
    /// bins from every harmonic of the old one are searched (the partials the old note lacks).
    pub rise_min_bins: f32,
    /// Rise dating, slow swells: when above 0, the rise found by `rise_drop_db` is followed
    /// back to its *foot*, the latest hop (within `rise_foot_hops` before it) whose energy was
    /// within this many dB of the lowest there, and the note is dated there minus
    /// `rise_foot_backdate` instead of `rise_backdate`. A string, pad or voice note swells for
    /// 100–200 ms: it crosses a mark 12 dB under its level at the decision long after its
    /// partials began rising, and a fixed backdate fits either the slow or the quick attacks.
    pub rise_foot_db: f32,
    /// See `rise_foot_db`.
    pub rise_foot_hops: usize,
    /// See `rise_foot_db`.
    pub rise_foot_backdate: u64,
    /// Rise dating over a floor: the mark under the partials' energy at the decision is
    /// `rise_drop_db`, or `rise_weak_share` of their rise over the search (their energy now
    /// minus their lowest there) when that is less; a rise under this many dB is no rise
    /// (0 = the fixed mark only, as before). A new note's own partials rise out of a floor, not
    /// out of silence: the reverberation of earlier notes, noise, the old note's spill into
    /// their bins, which beats and dips. When the rise is not much more than the fixed 12 dB,
    /// that mark lies in the floor, and the search found the last dip of the floor under it,
    /// often well before the note (a note dated 50–250 ms early is a miss and a wrong note:
    /// 339 of them on the dev split, most on the slow attacks of voice, reeds, brass, organ and
    /// strings); when the rise was under 12 dB (a voice's "oo" has weak upper partials) there
    /// was no rise and the note was dated from where the estimates left the old pitch, which
    /// the louder old note's release holds back. A mark at a share of the rise lies on the
    /// rise itself. Large rises keep the fixed mark.
    pub rise_weak_db: f32,
    /// See `rise_weak_db` (0.6: the hop where the partials were 40 % of the way up in dB;
    /// voice renders of dev 0.75 → 0.688, 0.6 → 0.696, 0.5 → 0.691).
    pub rise_weak_share: f32,
    /// Slow swells are dated from a deeper mark, this far (dB) under their energy now (at most
    /// `rise_weak_share` of their rise; 0 = off) ... A pad's, a string section's or a choir's
    /// note swells for 200–400 ms and is confirmed late in the swell: the `rise_drop_db` mark
    /// under its level then lies 60–100 ms into it (the largest class of wrong notes on dev's
    /// pads and ensembles: found at their pitch, 50–250 ms late). A deeper mark for every note
    /// dated those better and the quick attacks of brass, reeds and organs too early; so only
    /// a rise that took long to climb from the mark to half the mark's depth (in dB, under its
    /// energy now) is a slow swell. Dev: F1 0.892 →
    /// 0.894 (synth pad +0.026, string ensemble +0.013, no family lower than −0.002).
    pub rise_slow_db: f32,
    /// ... when the climb from `rise_drop_db` to `rise_drop_db / 2` under the partials' energy
    /// now took at least this many hops.
    pub rise_slow_hops: usize,
    /// The notes dated by the rise search on the slow paths (legato, from silence, newcomer,
    /// swell) get more backdate while the stream's notes swell in slowly
    /// (`attack_habit.rs`; `attack_habit=0` turns it off).
    pub attack_habit: AttackHabitConfig,
    /// Legato notes after a note are dated from the rise of their pitch (when it shows one)
    /// instead of from the old pitch's departure.
    pub rise_legato: bool,
    /// Onset- and repeat-path notes whose attack was soft (peak flux below this many times the
    /// threshold; 0 = never) are dated from the rise of their pitch when it began earlier than
    /// the onset: slow attacks reach the flux threshold long after they began.
    pub rise_onset_flux: f32,
    /// ... and then dated this much (samples) before the hop where their partials crossed the
    /// rise mark, instead of `rise_backdate`. `rise_backdate` (50 ms) was set for the legato
    /// path's swells; an attack that fired an onset rises faster, and its partials cross the
    /// mark sooner after they begin: a soft-attack electric piano's notes (dev
    /// `oneills1850-0401-0486-052-0-p4`) crossed it 14 ms before the decision, about 6 ms after
    /// the key, and came out dated 39 ms early (the eval's tolerance is 50 ms). At 30 ms: dev
    /// 0.9113 → 0.9115, `/tmp/jy` 0.8832 → 0.8834, `/tmp/jq` 0.8926 → 0.8929,
    /// `../shared/audio` 0.9399 → 0.9423 (clarinets, a voice, a saw lead; none down); 20 / 40
    /// ms: dev 0.9113 / 0.9112. Latency is unchanged (only the date moves).
    pub rise_onset_backdate: u64,
    /// Notes from silence are dated by the rise search above instead of the older quarter-rise
    /// rule (`legato_onset`).
    pub rise_silence: bool,
    /// Swell-path notes are dated from the rise of their pitch instead of the level dip.
    pub rise_swell: bool,
    /// Swell path: the rise that dates the new note is searched only from this long (samples)
    /// before the level dip on. A repeated note swells in out of the release of the one before
    /// it; before the dip its pitch's partials belong to that earlier note, whose own attack
    /// the search otherwise found (the run of estimates at the pitch goes on through the
    /// repeat, and its remembered rise is the earlier note's: the new start came out dated at
    /// the sounding note's onset, a duplicate, and the written repeat was missed). `None`
    /// (`swell_rise_margin_s` < 0) keeps the run's rise, searched from the note's start.
    pub swell_rise_margin: Option<u64>,
    /// Pitch estimates further than this (semitones) from the sounding note have left it.
    pub departure_semitones: f32,
    /// Legato notes dated from the departure are moved this much earlier (samples).
    pub departure_backdate: u64,
    /// Onset-path notes at a new pitch are dated from the departure (minus
    /// `onset_departure_backdate`) when it is at most this much earlier than the onset (samples;
    /// 0 = never): a voice glides to the new pitch before it gets louder.
    pub onset_departure_max: u64,
    /// See `onset_departure_max`.
    pub onset_departure_backdate: u64,
    /// ... but only when every hop from the departure to the onset was heard at some pitch: a
    /// hop with less pitch confidence than this (or under the gate) between them is a gap (the
    /// old note released into silence, noise or reverb before the new one was struck), not a
    /// glide, and the onset keeps its own date (0 = the old rule, any departure counts).
    pub departure_gap_confidence: f32,
    /// A run an octave, a twelfth or two octaves *under* the sounding note whose every hop is
    /// this confident may spread [`UNDER_SPREAD`] wide (0 = off): a reed's (bassoon's) or a
    /// horn's attack reads its second or third partial for 20–30 ms before the fundamental
    /// comes through, and the note started at that partial; the true note then reads at 0.99
    /// with the player's vibrato, which the plain run's quarter-tone spread kept restarting,
    /// so the legato path never took it over. A subharmonic reading this periodic is the
    /// fundamental, not an octave error (an estimator errs towards weakly periodic answers).
    pub under_confidence: f32,
    /// Hysteresis: after a note faded below the gate, the same pitch may start again without
    /// an onset only once the level is this much (dB) above where it ended. A decaying note
    /// whose level ripples around the gate is one note, not several.
    pub rearm_db: f32,
    /// Polyphony: while several notes sound, no new note starts (the tracker stays quiet rather
    /// than spraying the chord's notes and subharmonics). Off by default: on the monophonic
    /// renders the flag also rises on ringing previous notes and reverberation (piano, pads),
    /// and staying quiet then cost 0.05 of F1 on ../shared/audio.
    pub quiet_in_chords: bool,
    /// After a veto the run is judged again once it is this many times as long (≤ 1: never;
    /// see `Run::retry_at`). 2 was best on dev (F1 0.777 → 0.781; 1.5: 0.780).
    pub judge_retry: f32,
    /// The notes the attack reader names (MIDI, lowest and highest; `None` with the reader
    /// off): an onset-path start among them must reach the judge's onset bar
    /// (`judge::ONSET_THRESHOLD`); elsewhere the onset path is the only one a struck note has.
    pub reader_range: Option<(u8, u8)>,
    /// The judge also reads the frame model's probability of the new note this long before
    /// its dated onset (samples): a start at a pitch that was sounding there all along is no
    /// new note, a repeat shows the dip before it.
    pub frame_before: u64,
    /// Octave misreads at the attack are put right: a low string's or bass's attack may sound
    /// a component at half its frequency for its first 50–80 ms, the estimates name the
    /// sub-octave, and a note starts there; then the estimates name the played note, an
    /// octave up, for the rest of the note with full confidence, and the judge vetoes that
    /// legato start at every hearing (on its training starts an octave step from the sounding
    /// note was mostly that note's octave error). A legato start an octave *above* the
    /// sounding note whose run held this long (hops), every hop at full confidence and within
    /// [`OCTAVE_FIX_SPREAD`], goes ahead whatever the judge says, if the sounding note has next
    /// to nothing at its own odd partials (`octave_fix_odd_db`): then it is not sounding at
    /// all. The note put right takes the misread note's onset (0 = off; `octave_fix_ms`).
    pub octave_fix_hops: u32,
    /// ... see `octave_fix_hops`: how far (dB) under the even partials (2, 4, 6) of the
    /// sounding note its odd ones (1, 3, 5) must lie.
    pub octave_fix_odd_db: f32,
    /// ... and only for a sounding note below this pitch (MIDI): the attacks that sound their
    /// sub-octave are a double bass's and a cello's, and higher up the second partials of
    /// reeds, an accordion, a sitar or a clean guitar can outweigh the first for the 80 ms
    /// it takes (see [`OCTAVE_FIX_BELOW_MIDI`]).
    pub octave_fix_below_midi: f32,
    /// Polyphonic *input* (a keyboard's chords, an ensemble): when at least this share of the
    /// recent hops (a leaky mean over [`TrackerConfig::poly_input_rate`]) was flagged polyphonic,
    /// no new note starts until it falls below again — the tracker stays quiet rather than
    /// following whichever voice its pitch stage names. Chorales flag 27–46 % of their hops,
    /// the monophonic renders 0–13 % per family. Off (0) by default: at 0.2 it cut the wrong
    /// notes on the rendered chorales from 36 to 13 a minute, but cost 0.027 of F1 on the
    /// monophonic dev renders (0.750 against 0.777).
    pub poly_input_share: f32,
    /// Weight of each new hop in that leaky mean (hop length / its time constant).
    pub poly_input_rate: f32,
    /// Chords (the polyphony stage's chord-judge decision, [`TrackerInput::chords`]): no note
    /// starts while the input is polyphonic, and the sounding note ends when it becomes so.
    /// On by default (`chord_gate=0` turns it off).
    pub chord_gate: bool,
    /// Attack settling: how long (hops) after an onset the tracker watches whether the first
    /// stable pitch gives way to another one or two semitones away (a struck bar's, tine's or
    /// plucked string's attack read a semitone off before the pitch settles; 0 = never watch).
    pub settle_window_hops: u32,
    /// Weight of each watched onset in the stream's running share of such settling attacks.
    pub settle_rate: f32,
    /// While that share is at least this, a new pitch after an onset must hold for
    /// `settle_stable_hops` before it starts (no *Fast* shortcut, and the legato and
    /// from-silence paths wait as long inside the window): the first reading of such a sound
    /// is too often the wrong one.
    pub settle_share: f32,
    /// See `settle_share`.
    pub settle_stable_hops: u32,
    /// The settling watch records an attack's first pitch as soon as *Fast* tracking could
    /// start it (`fast_stable_hops` after a sharp attack, within `fast_max_spread`), not only
    /// once it held `onset_stable_hops`: a xylophone's or marimba's stroke reads a semitone or
    /// two sharp for only 2–3 hops (5–8 ms), long enough for the fast start and too short for
    /// the watch, which then took the settled pitch for the first one and never learnt the
    /// habit (`settle_quick=0` turns this off). The settled pitch must still hold
    /// `onset_stable_hops`.
    pub settle_quick: bool,
    /// Doubtful stroke: after a sharp attack (flux peak at least `fast_flux_ratio` × the
    /// threshold) a hop whose estimate lies at least this far (semitones) from the semitone it
    /// names, or whose confidence is under `doubt_confidence`, does not start a note before its
    /// run held `doubt_stable_hops` (no *Fast* shortcut; the onset and legato paths wait
    /// alike). A struck bar's first 10–50 ms mix its fundamental with strong inharmonic modes
    /// (2.76 and 5.4 × f0) and the ringing previous note: the estimate then sits between
    /// semitones or is weakly periodic, and the rounded pitch is a neighbour of the written
    /// one (a celesta's D5, 74, read as 74.6 → D#5). A centred, confident hop starts as before, so
    /// only the doubtful strokes wait; the per-stream settling watch (`settle_share`) cannot
    /// see them when only 10–25 % of a file's strokes misread. ≤ 0 turns the check off
    /// (`doubt=0`).
    pub doubt_off_centre: f32,
    /// See `doubt_off_centre`. 0.3 and 0.75 keep the struck/plucked median latency within
    /// about a millisecond of what it was (dev 29.2 → 30.4 ms, chromatic percussion F1 0.842 →
    /// 0.855); 0.25 and 0.85 wait on more strokes (0.861, but 33.3 ms).
    pub doubt_confidence: f32,
    /// The confidence under which a doubtful hop also holds the attack reader's answer while
    /// a note sounds (0: there only an off-centre hop holds it; from silence a weakly periodic
    /// hop holds it as it holds the other paths). The confidence rule was written for the
    /// estimate, whose rounded pitch on a weakly periodic hop is often a neighbour. The reader
    /// does not round that pitch: it compares each candidate's partials with the hop before
    /// the onset, and it was fitted on the hops where the old note still rings under the new
    /// one, which are weakly periodic; holding it there delayed its right answers to the
    /// estimate's own run (a steel guitar's G♯3 under its A3: the tenth hop after the onset
    /// instead of the third). From silence the window holds only the new sound, and a weakly
    /// periodic one is a mixture the reader names as the estimate does: an organ's quint rank
    /// or a struck chord's top note (three tests fail when it is let through there too:
    /// - `an_organ_with_a_quint_and_no_stop_under_its_key_names_the_key`,
    /// - `a_church_organ_plenum_names_the_played_key`,
    /// - `struck_decaying_chords_gate_the_tracker_soon`).
    ///
    /// At 0 rather than 0.75 (the old rule): dev 0.9113 → 0.9113 with the struck, plucked and
    /// synth median 26.8 → 26.2 ms; `/tmp/jy` 0.8832 → 0.8832 at 25.8 → 25.2 ms; `/tmp/jq`
    /// 0.8929 → 0.8926 at 24.9 → 24.5 ms; `../shared/audio` 0.9404 → 0.9399 at 22.2 → 21.8 ms
    /// (a nylon guitar's octave-low pluck component, which the reader names too). The answers
    /// let through were right 799 times in 804 on dev and 305 in 314 on `/tmp/jq` (a note of
    /// that pitch written 20 ms after to 80 ms before; four of the nine wrong ones a marimba's
    /// stroke a semitone off); a second hop asked of them gave back most of the gain (dev
    /// 26.6 ms). Before the
    /// silence rule, 0 / 0.4 / 0.6 scored alike at 26.1 / 26.1 / 26.3 ms; off-centre hops let
    /// through as well: 25.6 ms but 0.9098.
    pub doubt_reader_confidence: f32,
    /// Lowest estimate (MIDI) the check asks about (C3): a plucked bass's first hops are weakly
    /// periodic on every stroke (the windows hold only a few periods), and waiting there only
    /// delayed its notes (dev bass F1 0.868 → 0.857 with the check down to the lowest notes).
    pub doubt_min_midi: f32,
    /// Stable hops a doubtful reading needs (see `doubt_off_centre`; 16 ms: most misread strokes
    /// have settled or broken their run by then, and 25 ms only added latency).
    pub doubt_stable_hops: u32,
    /// Glide watch: the onset path does not start a pitch while the estimates move away from
    /// it and, extrapolated this many hops ahead from their slope over the last two hops,
    /// would round to another semitone (0 turns the watch off; `drift_ahead`). A note sung,
    /// bowed or bent into from below (or above) reads the semitone it comes from first; the
    /// onset path started that one and the legato path the written note a hop or two later:
    /// on dev, 223 of the 734 wrong notes were such one-hop neighbours (ethnic plucked 39,
    /// chromatic percussion 30, voice 24, piano 22; 133 of them in renders with glides).
    /// Dev 0.8991 → 0.9003 at 2 hops with the limits below (0.9009 without them, which broke an
    /// organ test and cost /tmp/jy's basses 0.010; 5 hops with the attack reader held too:
    /// 0.9012 but struck median +0.8 ms).
    pub drift_ahead: f32,
    /// The glide watch also holds the attack reader's starts (`drift_attack=1`; off: see
    /// `drift_ahead`'s measurements in `docs/transcription-journal.md`, it cost struck notes
    /// latency for little).
    pub drift_attack: bool,
    /// Lowest estimate (MIDI) the glide watch asks about.
    pub drift_min_midi: f32,
    /// The glide watch reads a slope only from estimates at most this far apart (semitones,
    /// over two hops): a larger step is another note (2 and 3 scored as 1 on dev).
    pub drift_max_step: f32,
    /// Newcomers (`newcomer.rs`: a new partial set rising under the sounding note) start a
    /// note, unjudged, once the sounding note has held this long (samples; `newcomer=0`
    /// turns the path off) ...
    pub newcomer_guard: Option<u64>,
    /// ... dated from the rise of their own partials, else this long before they were first
    /// named (samples).
    pub newcomer_backdate: u64,
    /// A newcomer an octave, a twelfth or two octaves under the sounding note, whose partials
    /// rose within this long (samples) of that note's onset, is that note's own lower partial
    /// set, not a new note (a drawbar organ's 16' and 5 1/3' ranks speak with its 8': two
    /// octaves under the note, all but the fundamental of a comb there rise with it).
    pub newcomer_sub_window: u64,
    /// The pitch a newcomer took over from may start again by the legato and soft onset paths
    /// once the estimates have followed the newcomer for `legato_stable_hops` (without it, it
    /// may not while the newcomer sounds: a neighbour note and back, 71 66 71 on slow strings,
    /// lost its return).
    pub release_overtaken: bool,
    /// Ringing previous note: after an onset, the pitch of the note before the sounding one
    /// (or of the last note that ended) starts by the onset path only if the energy of its own
    /// partials (away from the sounding note's) rose by at least this much (dB) from their
    /// lowest since the hop before the onset (`None` = no such check; `ring=0`). A struck bar,
    /// tine or string keeps ringing after the next note begins; its partials only decay, and a
    /// flux peak with no stroke on it (a sample's second transient, a neighbour's attack)
    /// followed by two hops of that decaying pitch re-started the old note (music box, celesta,
    /// kalimba). A new stroke on that pitch raises its partials well above their decayed level.
    /// 1 dB since the check asks it of any pitch (`ring_any`; dev 0.9015 with 2 dB, 0.9019 with
    /// 0.5–1, 0.8998 with 3: a slow stroke's partials may rise only a little by the decision).
    pub ring_rise_db: Option<f32>,
    /// The same check on the legato path, over the hops since the run began: when the sounding
    /// note's estimates waver, the previous note's ring names its pitch for a few hops in a row
    /// without being struck again (`ring_legato=0` turns it off; off with `ring=0`).
    pub ring_legato: bool,
    /// The onset path's ring check asks it of any pitch, not only of the note before the
    /// sounding one (`ring_any=0`: only that note). A note the tracker never started rings on
    /// too: on TimGM6mb's celesta each stroke swells in over 90 ms while the last one rings as
    /// loud, the estimate after a stroke named the last note, which the tracker had missed,
    /// and it started that one, one note behind for whole phrases. A pitch whose partials did
    /// not rise at the onset was not struck there.
    pub ring_any: bool,
}

impl TrackerConfig {
    /// Whether this hop's estimate is heard as a steady run hears it (and the named share):
    /// confident enough, loud enough, at a real pitch.
    fn heard_steadily(&self, input: &TrackerInput) -> bool {
        input.confidence >= self.steady_min_confidence
            && input.level_db >= self.gate_db
            && input.midi > 0.0
            && input.midi < 140.0
    }

    /// Defaults for a hop length and sample rate (any may be overridden through `tuning`).
    pub fn new(
        sample_rate: f32,
        hop: usize,
        _frame_len: usize,
        short_len: usize,
        tuning: &super::Tuning,
    ) -> Self {
        let hop_s = hop as f32 / sample_rate;
        let hops =
            |name: &str, ms: f32| ((tuning.get(name, ms) / 1000.0 / hop_s).round() as u32).max(1);
        let samples =
            |name: &str, default: f32| (tuning.get(name, default) * sample_rate).max(0.0) as u64;
        Self {
            hop: hop as u64,
            sample_rate,
            min_confidence: tuning.get("min_confidence", 0.8),
            onset_min_confidence: tuning.get("onset_min_confidence", 0.6),
            gate_db: tuning.get("gate_db", -52.0),
            onset_stable_hops: hops("onset_stable_ms", 10.0),
            low_stable_hops: hops("low_stable_ms", 6.0),
            low_stable_max_midi: tuning.get("low_stable_max_midi", 48.0),
            fast_stable_hops: hops("fast_stable_ms", 5.0),
            fast_flux_ratio: tuning.get("fast_flux_ratio", 5.0),
            fast_max_spread: tuning.get("fast_max_spread", 0.1),
            fast_max_midi: tuning.get("fast_max_midi", 96.0),
            repeat_stable_hops: hops("repeat_stable_ms", 16.0),
            legato_stable_hops: hops("legato_stable_ms", 18.0),
            silence_stable_hops: hops("silence_stable_ms", 12.0),
            octave_stable_hops: hops("octave_stable_ms", 40.0),
            steady_min_confidence: tuning.get("steady_min_confidence", STEADY_MIN_CONFIDENCE),
            steady_hops: if tuning.get("steady_ms", STEADY_MS) > 0.0 {
                hops("steady_ms", STEADY_MS)
            } else {
                0
            },
            onset_wait_hops: hops("onset_wait_ms", 60.0),
            retrigger_rise_db: tuning.get("retrigger_rise_db", 4.0),
            repeat_dip_confidence: tuning.get("repeat_dip_confidence", 0.7),
            repeat_dip_from: tuning.get("repeat_dip_from", 0.6),
            repeat_dip_after: samples("repeat_dip_after_s", 0.05),
            repeat_backdate_max: samples("repeat_backdate_max_s", 0.03),
            retrigger_flux_ratio: tuning.get("retrigger_flux_ratio", 1.0),
            repeat_quiet_ratio: tuning.get("repeat_quiet_ratio", 0.1),
            repeat_plain_flux: tuning.get("repeat_plain_flux", 2.0),
            onset_unstruck_hops: hops("onset_unstruck_ms", 30.0),
            attack_repeat_quiet: tuning.get("attack_repeat_quiet", 0.02),
            swell_dip_db: tuning.get("swell_dip_db", 8.0),
            swell_rise_db: tuning.get("swell_rise_db", 15.0),
            swell_beat_margin_db: tuning.get("swell_beat_margin_db", 6.0),
            swell_inherit_db: (tuning.get("swell_inherit", 0.0) > 0.5)
                .then(|| tuning.get("swell_inherit_db", 0.0)),
            swell_return_db: tuning.get("swell_return_db", 5.0),
            swell_dip_share: tuning.get("swell_dip_share", 0.3),
            swell_partial_db: tuning.get("swell_partial_db", 6.0),
            swell_flux_ratio: tuning.get("swell_flux_ratio", 0.5),
            swell_min_age: samples("swell_min_age_s", 0.25),
            swell_span_peak: tuning.get("swell_span_peak", 1.0) > 0.5,
            steady_swing_db: tuning.get("steady_swing_db", 5.0),
            steady_rise_db: tuning.get("steady_rise_db", 9.0),
            steady_min_age: samples("steady_min_age_s", 0.2),
            steady_skip: samples("steady_skip_s", 0.12),
            steady_lag_hops: (tuning.get("steady_lag_hops", 48.0) as usize)
                .clamp(1, steadiness::LAG),
            steady_min_held_hops: (samples("steady_min_held_s", 0.08) / (hop as u64).max(1))
                .min(u64::from(u32::MAX)) as u32,
            attack_repeat: tuning.get("attack_repeat", 1.0) > 0.5,
            attack_repeat_flux: tuning.get("attack_repeat_flux", 0.7),
            release_drop_db: tuning.get("release_drop_db", 40.0),
            unvoiced_release_hops: hops("unvoiced_release_ms", 80.0),
            vibrato_semitones: tuning.get("vibrato_semitones", 0.7),
            max_spread: tuning.get("max_spread", 0.25),
            onset_max_spread: tuning.get("onset_max_spread", 0.4),
            steady_max_spread: tuning.get("steady_max_spread", 0.5),
            named_share: tuning.get("named_share", NAMED_SHARE),
            named_share_rate: (hop_s / (tuning.get("named_share_ms", NAMED_SHARE_MS) / 1000.0))
                .clamp(0.0, 1.0),
            named_share_hops: hops("named_share_ms", NAMED_SHARE_MS) as usize,
            named_fall_db: tuning.get("named_fall_db", NAMED_FALL_DB),
            between_db: tuning.get("between_db", BETWEEN_DB),
            between_rise_db: tuning.get("between_rise_db", 6.0),
            between_level_db: tuning.get("between_level_db", 6.0),
            between_onset: tuning.get("between_onset", 1.0) > 0.0,
            rise_min_midi: crate::music::hz_to_midi(3.0 * sample_rate / short_len.max(1) as f32),
            onset_backdate: samples("onset_backdate_s", short_len as f32 / 2.0 / sample_rate),
            legato_backdate: samples("legato_backdate_s", 0.07),
            salience_backdate: samples("salience_backdate_s", 0.03),
            salience_lookback_hops: hops("salience_lookback_ms", 100.0) as usize,
            salience_min_rise_db: tuning.get("salience_min_rise_db", 6.0),
            salience_margin: samples("salience_margin_s", 0.0),
            use_salience: tuning.get("use_salience", 1.0) > 0.5,
            rise_drop_db: tuning.get("rise_drop_db", 12.0),
            rise_lookback_hops: hops("rise_lookback_ms", 250.0) as usize,
            rise_backdate: samples("rise_backdate_s", 0.05),
            rise_min_bins: tuning.get("rise_min_bins", 2.5),
            rise_foot_db: tuning.get("rise_foot_db", 0.0),
            rise_foot_hops: hops("rise_foot_ms", 150.0) as usize,
            rise_foot_backdate: samples("rise_foot_backdate_s", 0.01),
            rise_weak_db: tuning.get("rise_weak_db", RISE_WEAK_DB),
            rise_weak_share: tuning
                .get("rise_weak_share", RISE_WEAK_SHARE)
                .clamp(0.0, 1.0),
            rise_slow_db: tuning.get("rise_slow_db", RISE_SLOW_DB),
            rise_slow_hops: hops("rise_slow_ms", RISE_SLOW_MS) as usize,
            attack_habit: AttackHabitConfig {
                sample_rate,
                hop: hop as u64,
                share: tuning.get("attack_share", 0.7),
                slow_s: if tuning.get("attack_habit", 1.0) > 0.5 {
                    tuning.get("attack_slow_s", ATTACK_SLOW_S)
                } else {
                    0.0
                },
                full_s: tuning.get("attack_full_s", 0.2),
                extra: samples("attack_extra_s", 0.02),
            },
            rise_legato: tuning.get("rise_legato", 1.0) > 0.5,
            rise_onset_flux: tuning.get("rise_onset_flux", 1.3),
            rise_onset_backdate: samples("rise_onset_backdate_s", 0.03),
            rise_silence: tuning.get("rise_silence", 0.0) > 0.5,
            rise_swell: tuning.get("rise_swell", 1.0) > 0.5,
            swell_rise_margin: (tuning.get("swell_rise_margin_s", 0.05) >= 0.0)
                .then(|| samples("swell_rise_margin_s", 0.05)),
            departure_semitones: tuning.get("departure_semitones", 0.3),
            departure_backdate: samples("departure_backdate_s", 0.05),
            onset_departure_max: samples("onset_departure_max_s", 0.1),
            onset_departure_backdate: samples("onset_departure_backdate_s", 0.01),
            departure_gap_confidence: tuning
                .get("departure_gap_confidence", DEPARTURE_GAP_CONFIDENCE),
            under_confidence: tuning.get("under_confidence", UNDER_CONFIDENCE),
            rearm_db: tuning.get("rearm_db", 6.0),
            quiet_in_chords: tuning.get("quiet_in_chords", 0.0) > 0.5,
            judge_retry: tuning.get("judge_retry", 2.0),
            reader_range: super::attack_reader::reads_at(
                tuning.get("attack_threshold", super::ATTACK_THRESHOLD),
            )
            .then_some((
                super::attack_reader::LOW_MIDI,
                super::attack_reader::HIGH_MIDI,
            )),
            frame_before: samples("frame_before_s", 0.06),
            octave_fix_hops: if tuning.get("octave_fix_ms", OCTAVE_FIX_MS) > 0.0 {
                hops("octave_fix_ms", OCTAVE_FIX_MS)
            } else {
                0
            },
            octave_fix_odd_db: tuning.get("octave_fix_odd_db", OCTAVE_FIX_ODD_DB),
            octave_fix_below_midi: tuning.get("octave_fix_below_midi", OCTAVE_FIX_BELOW_MIDI),
            poly_input_share: tuning.get("poly_input_share", POLY_INPUT_SHARE),
            poly_input_rate: (hop_s / tuning.get("poly_input_s", 2.0).max(hop_s)).min(1.0),
            chord_gate: tuning.get("chord_gate", 1.0) > 0.5,
            settle_window_hops: if tuning.get("settle", 1.0) > 0.5 {
                hops("settle_window_ms", 60.0)
            } else {
                0
            },
            settle_rate: tuning.get("settle_rate", 0.15).clamp(0.0, 1.0),
            settle_share: tuning.get("settle_share", 0.4),
            settle_stable_hops: hops("settle_stable_ms", 25.0),
            settle_quick: tuning.get("settle_quick", 1.0) > 0.5,
            doubt_off_centre: if tuning.get("doubt", 1.0) > 0.5 {
                tuning.get("doubt_off_centre", 0.3)
            } else {
                0.0
            },
            doubt_confidence: tuning.get("doubt_confidence", 0.75),
            doubt_reader_confidence: tuning.get("doubt_reader_confidence", 0.0),
            doubt_min_midi: tuning.get("doubt_min_midi", 48.0).max(1.0),
            doubt_stable_hops: hops("doubt_stable_ms", 16.0),
            drift_ahead: tuning.get("drift_ahead", 2.0),
            drift_attack: tuning.get("drift_attack", 0.0) > 0.5,
            drift_min_midi: tuning.get("drift_min_midi", 48.0),
            drift_max_step: tuning.get("drift_max_step", 1.0),
            newcomer_guard: (tuning.get("newcomer", 1.0) > 0.5)
                .then(|| samples("newcomer_guard_s", 0.03)),
            newcomer_backdate: samples("newcomer_backdate_s", 0.03),
            newcomer_sub_window: samples("newcomer_sub_s", 0.05),
            release_overtaken: tuning.get("release_overtaken", 1.0) > 0.5,
            ring_legato: tuning.get("ring_legato", 1.0) > 0.5,
            ring_any: tuning.get("ring_any", 1.0) > 0.5,
            ring_rise_db: (tuning.get("ring", 1.0) > 0.5).then(|| tuning.get("ring_rise_db", 1.0)),
        }
    }
}

/// One hop's features as the tracker sees them.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackerInput {
    /// Stream time of the end of the frame (samples).
    pub time: u64,
    /// Fractional MIDI pitch, or 0 when no pitch was found.
    pub midi: f32,
    /// Pitch confidence 0..1.
    pub confidence: f32,
    /// Frame level (dBFS).
    pub level_db: f32,
    /// Short-term level (dBFS).
    pub recent_db: f32,
    /// The onset detector fired on this hop.
    pub onset: bool,
    /// Spectral flux over the detector's threshold (1 = at threshold), for how sharp an attack is.
    pub flux_ratio: f32,
    /// The flux of the bins that were quiet before, over the same threshold
    /// (`OnsetOutput::quiet_flux`): the broadband part of an attack.
    pub quiet_flux_ratio: f32,
    /// Several notes sound (the polyphony stage's quick flag; one of the judge's inputs).
    pub polyphonic: bool,
    /// The input is polyphonic (the polyphony stage's chord-judge decision, see
    /// [`TrackerConfig::chord_gate`]).
    pub chords: bool,
    /// A new partial set rising under the sounding note (`newcomer.rs`): its pitch and when it
    /// was first named (stream samples).
    pub newcomer: Option<(u8, u64)>,
    /// Energy (dB) at the sounding note's odd partials (1, 3, 5) minus that at its even ones
    /// (2, 4, 6), read at their exact bins of the long frame's Hann spectrum, on hops whose
    /// estimate names the octave above it; 0 otherwise. Far below 0 when the note shown is the
    /// sub-octave of the one played (see [`TrackerConfig::octave_fix_hops`]).
    pub sounding_odd_db: f32,
    /// The attack reader's note (`attack_reader.rs`): on the first hops after an onset, a note
    /// it names with confidence. The onset path starts it at once.
    pub attack: Option<u8>,
}

/// At most one note end and one note start per hop (end first).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrackerOutput {
    /// (pitch, offset in stream samples)
    pub off: Option<(u8, u64)>,
    /// (pitch, velocity, onset in stream samples)
    pub on: Option<(u8, f32, u64)>,
}

/// What a hop gives a path that wants to start a note: the hop's estimates, the salience and
/// the frame model (the judge reads all three).
#[derive(Clone, Copy)]
struct Heard<'a> {
    input: &'a TrackerInput,
    salience: &'a Salience,
    frame: Option<&'a FrameNet>,
}

/// A note start a path wanted, with what the judge saw and said (for the evaluation's
/// diagnostics and for fitting the judge; see `judge.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NoteStart {
    /// Which path wanted it.
    pub path: StartPath,
    /// The pitch it would start.
    pub pitch: u8,
    /// The judge's inputs.
    pub features: Features,
    /// The hop at which it was decided (stream samples).
    pub decided: u64,
    /// The onset it was given (stream samples).
    pub onset: u64,
    /// The judge let it start.
    pub accepted: bool,
    /// Diagnostics: the hop at which the onset detector fired for the onset waiting when the
    /// start was decided (stream samples; 0 when none was waiting).
    pub fired: u64,
    /// Diagnostics: the first hop of the run of estimates that decided it (stream samples).
    pub run_start: u64,
}

/// The note sounding now.
#[derive(Debug, Clone, Copy)]
struct Active {
    pitch: u8,
    /// Onset of the note.
    since: u64,
    /// The hop at which it was started (its NoteOn).
    began: u64,
    /// Highest short-term level since the note (or its last retrigger) began.
    peak_db: f32,
    /// Swell path: the highest level since the note began, on the scale of "did it get louder"
    /// (the short-term level, the frame level below `rise_min_midi`, where the short window
    /// holds less than three periods and ripples with the waveform) ...
    swell_peak_db: f32,
    /// Time of `swell_peak_db` (swell path: each harmonic's level before the dip is searched
    /// back to it).
    peak_time: u64,
    /// ... and the lowest since that peak.
    dip_db: f32,
    /// Time of `dip_db`.
    dip_time: u64,
    /// Highest flux ratio since `dip_time` (swell path: the noise of a new attack).
    dip_flux: f32,
    /// Largest swing (peak − dip, dB) the note showed before its current peak (swell path:
    /// beats and tremolo swing this deep again). A note the swell path started inherits the
    /// dip that started it, less `swell_inherit_db`, when that is set.
    swing_db: f32,
    /// How much the note's level swung while it was held (`steadiness.rs`).
    held: HeldSwing,
}

/// Consecutive voiced hops that agree on one semitone.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    pitch: u8,
    /// Time of the first hop of the run.
    start: u64,
    hops: u32,
    /// Consecutive hops at the end of the run with full confidence.
    strong: u32,
    /// A note was already started from this run (or the judge vetoed it and retries are off).
    used: bool,
    /// After a veto: the run is judged again once it holds this many hops (0 = never vetoed).
    /// A pitch that keeps sounding after the judge said "not yet" is asked about again with
    /// its longer, steadier run, instead of being dropped for good while the old note goes on.
    retry_at: u32,
    /// Lowest and highest fractional pitch in the run.
    lo: f32,
    hi: f32,
    /// Where the salience of the run's pitch began rising (stream samples), found when the run
    /// was first judged and kept for its retries: a retry comes later, when the rise may have
    /// left the salience history.
    rise: Option<u64>,
}

/// An onset waiting for a stable pitch.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Best estimate of the onset time.
    time: u64,
    /// The hop at which the detector fired (diagnostics).
    fired: u64,
    hops_waited: u32,
    /// Short-term level just before the onset.
    before_db: f32,
    /// Highest short-term level since the onset.
    after_db: f32,
    /// Highest flux / threshold since the onset (a re-attack has a sharp one, tremolo does not).
    peak_flux_ratio: f32,
    /// Highest quiet-bin flux / threshold since the onset (see
    /// [`TrackerConfig::repeat_quiet_ratio`]).
    peak_quiet_ratio: f32,
    /// The last gap hop up to the onset (see `TrackerConfig::departure_gap_confidence`).
    gap: u64,
    /// Pitch confidence on the hop before the onset ...
    before_confidence: f32,
    /// ... and the lowest since (see `TrackerConfig::repeat_dip_confidence`).
    min_confidence: f32,
}

impl Pending {
    /// Whether something was struck since the onset: a flux peak of `plain` × the threshold,
    /// or a quiet-bin flux peak of `quiet` (see [`TrackerConfig::repeat_quiet_ratio`]).
    fn struck(&self, plain: f32, quiet: f32) -> bool {
        self.peak_flux_ratio >= plain || self.peak_quiet_ratio >= quiet
    }
}

/// Default length (ms) of [`TrackerConfig::octave_fix_hops`]. In effect the judge's next
/// hearing after it (`judge_retry`): the first comes at `octave_stable_ms`, the next at twice
/// that. 50 and 80 ms gave the same notes on dev and on 300 more renders of dev melodies.
pub const OCTAVE_FIX_MS: f32 = 50.0;

/// Default of [`TrackerConfig::octave_fix_odd_db`]. Measured before the register bound, on
/// the salience stage's partials: 10 dB also "put right" a clean electric guitar's and a
/// French horn's notes, whose estimates read an octave up for 130 ms and whose odd partials
/// lay 12–14 dB under the even ones (dev 0.898 → 0.895); 15 and 18 dB left those alone.
pub const OCTAVE_FIX_ODD_DB: f32 = 15.0;

/// Default of [`TrackerConfig::octave_fix_below_midi`] (C3). With no bound, dev lost 0.001:
/// a tenor sax's, an oboe's, an accordion's, a sitar's and a clean guitar's notes from F3 to
/// E5 were "put right" to their octave (their estimates read it for 80 ms and more, and their
/// odd partials lay 15 dB under the even ones); below C3 only four acoustic basses and a
/// cello on 300 renders of dev melodies changed, all for the better. Below G3 the same.
pub const OCTAVE_FIX_BELOW_MIDI: f32 = 48.0;

/// Widest run (semitones, highest minus lowest estimate) that [`TrackerConfig::octave_fix_hops`]
/// accepts: a steady note, not a glide through the octave.
const OCTAVE_FIX_SPREAD: f32 = 0.5;

/// Default of [`TrackerConfig::under_confidence`].
pub const UNDER_CONFIDENCE: f32 = 0.95;

/// How wide (semitones) a run under the sounding note may spread (see
/// [`TrackerConfig::under_confidence`]): a player's vibrato, within half a semitone either way.
pub const UNDER_SPREAD: f32 = 1.0;

/// Default of [`TrackerConfig::departure_gap_confidence`].
pub const DEPARTURE_GAP_CONFIDENCE: f32 = 0.6;

/// Default of `steady_ms`, the length of [`TrackerConfig::steady_hops`] (ms).
pub const STEADY_MS: f32 = 30.0;

/// Default of [`TrackerConfig::steady_min_confidence`].
pub const STEADY_MIN_CONFIDENCE: f32 = 0.5;

/// Consecutive hops, at [`TrackerConfig::steady_min_confidence`] or more, whose estimates name
/// one semitone within [`TrackerConfig::max_spread`] (see *Steady runs* in the module doc). Kept
/// apart from [`Run`], whose hops and dating the other paths use unchanged.
#[derive(Debug, Clone, Copy, Default)]
struct Steady {
    /// The semitone named (the sounding note's within `vibrato_semitones`, as for [`Run`]).
    pitch: u8,
    /// Hops in the run (0 = none).
    hops: u32,
    /// Lowest and highest fractional pitch in the run.
    lo: f32,
    hi: f32,
}

/// Default of [`TrackerConfig::rise_weak_db`].
pub const RISE_WEAK_DB: f32 = 6.0;

/// Default of [`TrackerConfig::rise_weak_share`].
pub const RISE_WEAK_SHARE: f32 = 0.6;

/// Default of [`TrackerConfig::rise_slow_db`] (dev: 16 dB 0.893, 20 and 26 dB 0.894 with
/// `RISE_SLOW_MS` 18; 20 dB for every rise, not only slow ones, 0.893 with brass, organ, pipe,
/// reed and solo strings 0.005–0.007 lower).
pub const RISE_SLOW_DB: f32 = 20.0;

/// Default of `rise_slow_ms` (see [`TrackerConfig::rise_slow_hops`]; dev 12 ms: brass and reed
/// −0.003, 30 ms: half the gain on pads).
pub const RISE_SLOW_MS: f32 = 18.0;

/// Default of `attack_slow_s` (see [`AttackHabitConfig::slow_s`]): chosen on dev's pad, voice
/// and ensemble renders (0.08 / 0.10 / 0.12 s: 0.7740 / 0.7737 / 0.7733 with `attack_share`
/// 0.7, against 0.7686 without) and on `../shared/audio` (unchanged at 0.08 and 0.7; with the
/// note's highest less 3 dB as the end of its swell, a sawtooth lead whose filter keeps
/// opening counted as slow, 0.9450 → 0.9432).
pub const ATTACK_SLOW_S: f32 = 0.08;

/// Default of [`TrackerConfig::named_share`].
pub const NAMED_SHARE: f32 = 0.45;

/// Default of `named_share_ms` (see [`TrackerConfig::named_share_rate`]).
pub const NAMED_SHARE_MS: f32 = 40.0;

/// Default of [`TrackerConfig::named_fall_db`].
pub const NAMED_FALL_DB: f32 = 3.0;

/// Default of [`TrackerConfig::between_db`].
pub const BETWEEN_DB: f32 = 3.0;

/// Default of [`TrackerConfig::poly_input_share`].
pub const POLY_INPUT_SHARE: f32 = 0.0;

/// Hops before the dip searched at least for each harmonic's level before it (swell path; see
/// `TrackerConfig::swell_span_peak`).
const SWELL_SPAN_HOPS: usize = 30;

/// Hops of short-term level remembered for "level before the onset".
const LEVEL_HISTORY: usize = 8;

/// The note tracker.
pub struct NoteTracker {
    /// Settings, fixed at construction.
    config: TrackerConfig,
    /// Fast tracking (the *Tracking* parameter), switchable at any time.
    fast: bool,
    /// The sounding note, if any.
    active: Option<Active>,
    /// The current run of agreeing pitch estimates.
    run: Run,
    /// The current steady run (see [`Steady`]).
    steady: Steady,
    /// How often each semitone was named lately (see [`TrackerConfig::named_share`]).
    named: NamedShare,
    /// An onset waiting for its pitch.
    pending: Option<Pending>,
    /// Consecutive unvoiced hops.
    unvoiced_hops: u32,
    /// Time of the first of the current unvoiced hops.
    unvoiced_since: u64,
    /// Recent short-term levels (ring), for the level before an onset.
    level_history: [f32; LEVEL_HISTORY],
    /// Next slot in `level_history`.
    level_pos: usize,
    /// When the last note ended (a new note is not dated before it).
    last_off: u64,
    /// Last hop whose pitch estimate was still close to the sounding note (legato dating).
    steady_until: u64,
    /// The pitch estimates of the last two hops (oldest first; 0 = unvoiced), for the glide
    /// watch (`TrackerConfig::drift_ahead`).
    midi_back: [f32; 2],
    /// Last hop heard at no pitch (confidence under `departure_gap_confidence`, or under the
    /// gate): a departure before it was a gap, not a glide (onset dating).
    last_gap: u64,
    /// Pitch confidence of the last hop (see `Pending::before_confidence`).
    last_confidence: f32,
    /// The pitch of the last note that faded below the gate, and the short-term level it ended
    /// at (hysteresis, see `TrackerConfig::rearm_db`).
    faded: Option<(u8, f32)>,
    /// The learned judge of note starts.
    judge: StartJudge,
    /// The last note's pitch, onset and peak short-term level (kept after it ended), for the
    /// judge's interval, time and level features.
    previous_note: Option<(u8, u64, f32)>,
    /// The hop at which the last onset fired (stream samples; 0 before any): the legato path's
    /// ring check looks back past it (see `legato_ring_hops`).
    last_fired: u64,
    /// The last start a path wanted (diagnostics; overwritten each time, never allocated).
    last_start: NoteStart,
    /// Starts the judge vetoed since the last reset.
    vetoed: u64,
    /// Leaky mean of the polyphony flag (see [`TrackerConfig::poly_input_share`]).
    poly_share: f32,
    /// The previous hop's `TrackerInput::chords` (the sounding note ends when it rises); the
    /// chord gate's state after the last hop.
    was_chords: bool,
    /// The attack being watched for settling (see [`TrackerConfig::settle_share`]).
    settle: Settle,
    /// Running share of watched onsets whose first stable pitch gave way to one a semitone or
    /// two away (see [`TrackerConfig::settle_share`]).
    settle_share: f32,
    /// The note a newcomer took over from, while the newcomer sounds and the pitch estimate
    /// still names the old note (it is louder, fading): no legato or soft onset start may
    /// bring it back; a sharp onset may. Cleared once the estimates follow the newcomer (see
    /// [`TrackerConfig::release_overtaken`]).
    overtaken: Option<u8>,
    /// Whether the stream's notes hold their level (see [`TrackerConfig::steady_swing_db`]).
    steadiness: Steadiness,
    /// How slowly the stream's notes swell in (`attack_habit.rs`).
    attack_habit: AttackHabit,
}

/// An onset watched for a settling attack: does its first stable pitch give way to another one
/// a semitone or two away within [`TrackerConfig::settle_window_hops`]? Watched from the
/// estimates alone, whether or not a note was started, so waiting out the attack does not
/// hide the habit it answers.
#[derive(Debug, Clone, Copy, Default)]
struct Settle {
    /// An onset is being watched.
    open: bool,
    /// Hops since the onset.
    hops: u32,
    /// The first pitch that held `onset_stable_hops` after the onset.
    first: Option<u8>,
}

impl NoteTracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self::with_judge(config, StartJudge::new(&super::Tuning::default()))
    }

    /// A tracker whose note starts are judged by `judge`.
    pub fn with_judge(config: TrackerConfig, judge: StartJudge) -> Self {
        Self {
            config,
            fast: false,
            active: None,
            run: Run::default(),
            steady: Steady::default(),
            named: NamedShare::default(),
            pending: None,
            unvoiced_hops: 0,
            unvoiced_since: 0,
            level_history: [super::loudness::FLOOR_DB; LEVEL_HISTORY],
            level_pos: 0,
            last_off: 0,
            steady_until: 0,
            midi_back: [0.0; 2],
            last_gap: 0,
            last_confidence: 0.0,
            faded: None,
            judge,
            previous_note: None,
            last_fired: 0,
            last_start: NoteStart::default(),
            vetoed: 0,
            poly_share: 0.0,
            was_chords: false,
            settle: Settle::default(),
            settle_share: 0.0,
            overtaken: None,
            steadiness: Steadiness::default(),
            attack_habit: AttackHabit::new(config.attack_habit),
        }
    }

    /// Counts a finished note's swing into the stream's habit (see `steadiness.rs`).
    fn learn_swing(&mut self, a: &Active) {
        self.steadiness
            .learn(&a.held, self.config.steady_min_held_hops);
    }

    /// Whether the input is polyphonic (see [`TrackerConfig::poly_input_share`]): no note
    /// starts while it is.
    pub fn in_polyphonic_input(&self) -> bool {
        let c = &self.config;
        c.poly_input_share > 0.0 && self.poly_share >= c.poly_input_share
    }

    /// The last start a path wanted, and whether it was accepted.
    pub fn last_start(&self) -> &NoteStart {
        &self.last_start
    }

    /// Starts the judge vetoed since the last reset.
    pub fn vetoed(&self) -> u64 {
        self.vetoed
    }

    /// Whether the chord gate held on the last hop (the tracker then starts no note).
    pub fn chord_gated(&self) -> bool {
        self.was_chords
    }

    /// The stream's habits the attack reader reads: the share of attacks that settled off their
    /// first reading, and the judge's running mean of the attacks' flux peaks (a tenth).
    pub fn attack_habits(&self) -> [f32; 2] {
        [self.settle_share, self.judge.habits()[1]]
    }

    /// The pitch of the sounding note.
    pub fn active_pitch(&self) -> Option<u8> {
        self.active.map(|a| a.pitch)
    }

    /// Ends the sounding note now (used by `reset` callers that want a final Off).
    pub fn flush(&mut self, time: u64) -> Option<(u8, u64)> {
        self.pending = None;
        self.active.take().map(|a| (a.pitch, time))
    }

    pub fn reset(&mut self) {
        let fast = self.fast;
        let mut judge = self.judge;
        judge.reset();
        *self = Self::with_judge(self.config, judge);
        self.fast = fast;
    }

    /// Chooses fast (less latency, more wrong notes) or accurate tracking. No allocation.
    pub fn set_fast(&mut self, fast: bool) {
        self.fast = fast;
    }

    pub fn process(
        &mut self,
        input: &TrackerInput,
        salience: &Salience,
        frame: Option<&FrameNet>,
    ) -> TrackerOutput {
        let heard = Heard {
            input,
            salience,
            frame,
        };
        self.attack_habit.hop(
            self.active.map(|a| (a.pitch, a.since)),
            input.time,
            salience,
        );
        let c = self.config;
        let mut out = TrackerOutput::default();
        // Voiced enough for the onset path (after an attack the pitch is clear but the
        // periodicity still low) …
        let voiced = input.confidence >= c.onset_min_confidence.min(c.min_confidence)
            && input.level_db >= c.gate_db
            && input.midi > 0.0
            && input.midi < 140.0;
        // … and for everything else.
        let strong = voiced && input.confidence >= c.min_confidence;

        // The level used for "did it get louder": the short-term level, unless the pitch is so
        // low that the short window holds less than about three periods (it would ripple).
        let low = input.midi > 0.0 && input.midi < c.rise_min_midi;
        let rise_db = if low { input.level_db } else { input.recent_db };
        // Level before a possible onset: the lowest of the last few hops.
        let before_db = self
            .level_history
            .iter()
            .fold(f32::INFINITY, |a, &b| a.min(b));
        if let Some(slot) = self.level_history.get_mut(self.level_pos) {
            *slot = rise_db;
        }
        self.level_pos = (self.level_pos + 1) % LEVEL_HISTORY;

        if c.departure_gap_confidence > 0.0
            && (input.confidence < c.departure_gap_confidence
                || input.level_db < c.gate_db
                || input.midi <= 0.0)
        {
            self.last_gap = input.time;
        }
        if input.onset && input.level_db >= c.gate_db {
            self.last_fired = input.time;
            self.pending = Some(Pending {
                time: input.time.saturating_sub(c.onset_backdate),
                fired: input.time,
                hops_waited: 0,
                before_db,
                after_db: rise_db,
                peak_flux_ratio: 0.0,
                peak_quiet_ratio: 0.0,
                gap: self.last_gap,
                before_confidence: self.last_confidence,
                min_confidence: input.confidence,
            });
            // Count stability only from hops after the onset.
            self.run = Run::default();
            self.close_settle();
            self.settle = Settle {
                open: c.settle_window_hops > 0,
                hops: 0,
                first: None,
            };
        }
        self.last_confidence = input.confidence;

        if let Some(a) = self.active {
            if voiced && (input.midi - a.pitch as f32).abs() <= c.departure_semitones {
                self.steady_until = input.time;
            }
        }

        // Update the run.
        if voiced {
            self.unvoiced_hops = 0;
            let semitone = match self.active {
                Some(a) if (input.midi - a.pitch as f32).abs() <= c.vibrato_semitones => a.pitch,
                _ => input.midi.round().clamp(0.0, 127.0) as u8,
            };
            let fresh = Run {
                pitch: semitone,
                start: input.time,
                hops: 1,
                strong: strong as u32,
                used: false,
                retry_at: 0,
                lo: input.midi,
                hi: input.midi,
                rise: None,
            };
            if self.run.hops > 0 && self.run.pitch == semitone {
                self.run.hops = self.run.hops.saturating_add(1);
                self.run.strong = if strong {
                    self.run.strong.saturating_add(1)
                } else {
                    0
                };
                self.run.lo = self.run.lo.min(input.midi);
                self.run.hi = self.run.hi.max(input.midi);
                // After an onset a struck or plucked note's first periods read sharp and fall
                // (see `TrackerConfig::onset_max_spread`).
                let spread = if self.pending.is_some() {
                    c.max_spread.max(c.onset_max_spread)
                } else {
                    c.max_spread
                };
                // A confident run an octave or a twelfth under the sounding note names the
                // fundamental that note's attack misread (see `under_confidence`): it may
                // wander with its vibrato as the sounding note may.
                let spread = if self.under_sounding(semitone, input.confidence) {
                    spread.max(UNDER_SPREAD)
                } else {
                    spread
                };
                if !self.run.used && self.run.hi - self.run.lo > spread {
                    // A glide between two notes (mixture in the window), not a stable pitch:
                    // start counting again from here, at the pitch heard now.
                    self.run = Run {
                        pitch: input.midi.round().clamp(0.0, 127.0) as u8,
                        ..fresh
                    };
                }
            } else {
                self.run = fresh;
            }
        } else {
            if self.unvoiced_hops == 0 {
                self.unvoiced_since = input.time;
            }
            self.unvoiced_hops = self.unvoiced_hops.saturating_add(1);
            self.run.hops = 0;
        }

        // Once the estimates follow the newcomer (a run at its pitch held as long as a legato
        // note must), the note it took over from is no longer the louder one: its pitch coming
        // back is a new note (a neighbour note and back: 71 66 71), not the old one's tail.
        if self.overtaken.is_some()
            && c.release_overtaken
            && self.active.map(|a| a.pitch) == Some(self.run.pitch)
            && self.run.hops >= c.silence_stable_hops
        {
            self.overtaken = None;
        }

        self.follow_steady(input);
        let named = self.heard_semitone(input);
        self.named.follow(named, c.named_share_rate);
        self.watch_settle(voiced);
        // A sound whose attacks often settle a semitone or two away from their first reading:
        // inside the watch window a new pitch must hold longer before it starts.
        let settling =
            self.settle.open && c.settle_window_hops > 0 && self.settle_share >= c.settle_share;
        // How long a new pitch must hold while the watch says so, or while this hop's reading
        // is doubtful right after a sharp attack (see `TrackerConfig::doubt_off_centre`).
        let doubt = self
            .doubtful(input, c.doubt_confidence)
            .then_some(c.doubt_stable_hops);
        // The reader's own hold (see `doubt_reader_confidence`): an off-centre hop, or a weakly
        // periodic one while no note sounds.
        let doubt_reader = self.doubtful(input, c.doubt_reader_confidence)
            || (doubt.is_some() && self.active.is_none());
        // Where the estimates are heading (see `TrackerConfig::drift_ahead`): a glide into a
        // note reads the semitone it comes from first. A glide moves by a fraction of a
        // semitone a hop; a larger step is another note (an organ's quint speaking first), and
        // a low note's first periods wander.
        let moved = input.midi - self.midi_back[0];
        let heading = (voiced
            && c.drift_ahead > 0.0
            && self.midi_back[0] > 0.0
            && moved.abs() <= c.drift_max_step
            && input.midi >= c.drift_min_midi)
            .then_some(input.midi + moved * 0.5 * c.drift_ahead);
        self.midi_back = [self.midi_back[1], if voiced { input.midi } else { 0.0 }];
        let drifts_from = |pitch: u8| {
            heading.is_some_and(|h| {
                let target = f32::from(pitch);
                (h - target).abs() > 0.5 && (h - target).abs() > (input.midi - target).abs()
            })
        };
        let hold = settling.then_some(c.settle_stable_hops).max(doubt);

        // The level `steady_lag_hops` ago, which the sounding note's swing may now count.
        let held_level = self.steadiness.delay(rise_db, c.steady_lag_hops);
        // Follow the sounding note's level.
        if let Some(a) = self.active.as_mut() {
            let held_at = input.time.saturating_sub(c.steady_lag_hops as u64 * c.hop);
            if let Some(level) = held_level.filter(|_| held_at >= a.since + c.steady_skip) {
                a.held.add(level);
            }
            a.peak_db = a.peak_db.max(input.recent_db);
            if rise_db > a.swell_peak_db {
                a.swing_db = a.swing_db.max(a.swell_peak_db - a.dip_db);
                a.swell_peak_db = rise_db;
                a.peak_time = input.time;
                a.dip_db = rise_db;
                a.dip_time = input.time;
                a.dip_flux = 0.0;
            } else if rise_db < a.dip_db {
                a.dip_db = rise_db;
                a.dip_time = input.time;
                a.dip_flux = 0.0;
            }
            a.dip_flux = a.dip_flux.max(input.flux_ratio);
        }

        // In a chord no note starts: the pitch of a mixture is one of its notes, a common
        // subharmonic or a partial, and each hop may name another one.
        self.poly_share +=
            (f32::from(u8::from(input.polyphonic)) - self.poly_share) * c.poly_input_rate;
        let gated = c.chord_gate && input.chords;
        let chords_began = gated && !self.was_chords;
        self.was_chords = gated;
        let chord = (c.quiet_in_chords && input.polyphonic) || self.in_polyphonic_input() || gated;

        // Onset path.
        if let Some(mut p) = self.pending {
            p.hops_waited += 1;
            p.after_db = p.after_db.max(rise_db);
            p.min_confidence = p.min_confidence.min(input.confidence);
            p.peak_flux_ratio = p.peak_flux_ratio.max(input.flux_ratio);
            p.peak_quiet_ratio = p.peak_quiet_ratio.max(input.quiet_flux_ratio);
            let struck_through = p.struck(c.repeat_plain_flux, c.repeat_quiet_ratio);
            let mut done = false;
            // Fast tracking only (Accurate waits for the estimates), and not on a hop whose
            // reading is off-centre right after a sharp attack (a stroke that sounds a semitone
            // off first: the reader hears that semitone too), nor weakly periodic from silence.
            if let Some(pitch) = input
                .attack
                .filter(|&a| self.fast && !doubt_reader && !(c.drift_attack && drifts_from(a)))
            {
                let same = self.active.map(|a| a.pitch) == Some(pitch);
                let struck_again = same
                    && c.attack_repeat
                    && p.after_db - p.before_db >= c.retrigger_rise_db
                    && p.peak_flux_ratio >= c.attack_repeat_flux
                    && p.struck(c.repeat_plain_flux, c.attack_repeat_quiet);
                if !chord && input.recent_db >= c.gate_db && (!same || struck_again) {
                    self.start_read(&mut out, pitch, &p, input);
                    done = true;
                }
            }
            if !done && voiced && !chord && self.run_ready() && input.recent_db >= c.gate_db {
                let same = self.active.map(|a| a.pitch) == Some(self.run.pitch);
                let quick = self.fast
                    && hold.is_none()
                    && self.run.hops >= c.fast_stable_hops
                    && p.peak_flux_ratio >= c.fast_flux_ratio
                    && self.run.hi - self.run.lo <= c.fast_max_spread
                    && f32::from(self.run.pitch) <= c.fast_max_midi;
                let low = f32::from(self.run.pitch) < c.low_stable_max_midi;
                let stable_hops = if let Some(h) = hold {
                    c.onset_stable_hops.max(h)
                } else if low {
                    c.onset_stable_hops.min(c.low_stable_hops)
                } else {
                    c.onset_stable_hops
                };
                let overtaken =
                    self.overtaken == Some(self.run.pitch) && p.peak_flux_ratio < c.fast_flux_ratio;
                let drifting = drifts_from(self.run.pitch);
                // The ring check reads the salience history: asked last, only of a run that
                // would start.
                let unstruck_wait = if struck_through {
                    0
                } else {
                    c.onset_unstruck_hops
                };
                if !same
                    && !overtaken
                    && !drifting
                    && (self.run.hops >= stable_hops + unstruck_wait || quick)
                    && !self.ringing_previous(p.hops_waited, salience, c.ring_any)
                {
                    let mut onset = p.time;
                    if let Some(a) = self.active {
                        let departed = self
                            .steady_until
                            .saturating_sub(c.onset_departure_backdate)
                            .max(a.since + c.hop);
                        // After a gap (no glide) the note keeps its own onset.
                        let glided = p.gap <= self.steady_until;
                        if glided && departed < onset && onset - departed <= c.onset_departure_max {
                            onset = departed;
                        }
                    }
                    onset = self.soft_onset(onset, &p, input.time, salience);
                    done = self.start(&mut out, onset, heard, StartPath::Onset);
                } else if same
                    && self.run.strong >= c.repeat_stable_hops
                    && (p.after_db - p.before_db >= c.retrigger_rise_db
                        || (p.before_confidence >= c.repeat_dip_from
                            && p.min_confidence <= c.repeat_dip_confidence
                            && self
                                .active
                                .is_some_and(|a| p.fired >= a.began + c.repeat_dip_after)))
                    && p.peak_flux_ratio >= c.retrigger_flux_ratio
                    && struck_through
                {
                    let onset = self
                        .soft_onset(p.time, &p, input.time, salience)
                        .max(p.time.saturating_sub(c.repeat_backdate_max));
                    done = self.start(&mut out, onset, heard, StartPath::Repeat);
                }
            }
            if done || p.hops_waited > c.onset_wait_hops {
                self.pending = None;
            } else {
                self.pending = Some(p);
            }
        }

        // Newcomer path (not while the polyphony stage hears a second voice: in a chord the
        // other voices hold on instead of fading, and each of them would be a newcomer).
        if out.on.is_none() && !chord && !input.polyphonic {
            if let (Some((pitch, named)), Some(a), Some(guard)) =
                (input.newcomer, self.active, c.newcomer_guard)
            {
                if pitch != a.pitch && input.time >= a.since + guard {
                    let not_before = a.since + c.hop;
                    let onset = self
                        .rise_of(pitch, input.time, salience, not_before, Some(a.pitch), true)
                        .unwrap_or(named.saturating_sub(c.newcomer_backdate))
                        .min(named)
                        .max(not_before);
                    // An octave, a twelfth or two octaves under the sounding note and risen
                    // with it: that note's own lower ranks (`newcomer_sub_window`).
                    let under = i32::from(a.pitch) - i32::from(pitch);
                    let own =
                        matches!(under, 12 | 19 | 24) && onset < a.since + c.newcomer_sub_window;
                    if !own {
                        self.last_start = NoteStart {
                            path: StartPath::Newcomer,
                            pitch,
                            features: Features::default(),
                            decided: input.time,
                            onset,
                            accepted: true,
                            fired: self.pending.map_or(0, |p| p.fired),
                            run_start: self.run.start,
                        };
                        self.commit(&mut out, pitch, onset, input);
                        self.overtaken = Some(a.pitch);
                    }
                }
            }
        }

        // Legato path.
        let silence_needed = hold.map_or(c.silence_stable_hops, |h| c.silence_stable_hops.max(h));
        // A long run of voiced estimates within a quarter tone is as good as a short strong one.
        // Not while the polyphony stage hears a second voice: a mixture's estimates are
        // weakly periodic too, and name whichever voice or common subharmonic wins the hop.
        let steady = voiced
            && !input.polyphonic
            && c.steady_hops > 0
            && self.run.hops > 0
            && self.steady.pitch == self.run.pitch
            && self.steady.hops >= c.steady_hops;
        // The swell path's rise and age, looser in a steady stream (`steadiness.rs`).
        let (swell_rise_db, swell_min_age) =
            if c.steady_swing_db > 0.0 && self.steadiness.steady(c.steady_swing_db) {
                (c.steady_rise_db, c.steady_min_age)
            } else {
                (c.swell_rise_db, c.swell_min_age)
            };
        if out.on.is_none() && (strong || steady) && !chord {
            match self.active {
                _ if self.run.used && self.active.map(|a| a.pitch) != Some(self.run.pitch) => {}
                Some(_) if self.overtaken == Some(self.run.pitch) => {}
                // The previous note ringing on under the sounding one, its partials still
                // decaying since the run began (see `TrackerConfig::ring_legato`).
                Some(a)
                    if c.ring_legato
                        && a.pitch != self.run.pitch
                        && self.ringing_previous(
                            self.legato_ring_hops(a, input.time),
                            salience,
                            false,
                        ) => {}
                Some(a) if a.pitch != self.run.pitch && self.run_ready() => {
                    let interval = (a.pitch as i32 - self.run.pitch as i32).abs();
                    let octave = interval == 12 || interval == 19 || interval == 24;
                    let needed = if octave {
                        c.octave_stable_hops
                    } else {
                        c.legato_stable_hops
                    };
                    let needed = hold.map_or(needed, |h| needed.max(h));
                    // Not for an octave (or twelfth) away: weakly periodic estimates there are
                    // mostly the sounding note's octave error (a clean guitar's 64/76).
                    if self.run.strong >= needed || (steady && !octave) {
                        // Dated from where the salience of the new pitch began rising, else
                        // from where the estimates left the old pitch.
                        let not_before = a.since + c.hop;
                        let departure = self
                            .steady_until
                            .saturating_sub(c.departure_backdate)
                            .min(self.run.start)
                            .max(not_before);
                        // A start only a steady run allows needs the new pitch's own partials
                        // to have risen: a mixture's weakly periodic estimate (voices moving
                        // under the sounding note) names a pitch whose partials did not.
                        let by_steady = self.run.strong < needed;
                        let rise = (c.rise_legato || by_steady)
                            .then(|| {
                                self.rise_date(
                                    input.time,
                                    salience,
                                    not_before,
                                    Some(a.pitch),
                                    true,
                                )
                            })
                            .flatten();
                        if !by_steady || rise.is_some() {
                            let rise = rise.filter(|_| c.rise_legato);
                            let onset = rise.map_or(departure, |r| r.min(self.run.start));
                            self.start(&mut out, onset, heard, StartPath::LegatoFromNote);
                        }
                    }
                }
                None if (self.run.strong >= silence_needed || steady)
                    && self.run_ready()
                    && input.recent_db >= c.gate_db
                    && self.rearmed(input.recent_db) =>
                {
                    let not_before = self.last_off + c.hop;
                    let rise = c
                        .rise_silence
                        .then(|| self.rise_date(input.time, salience, not_before, None, true))
                        .flatten();
                    let onset = rise
                        .map(|r| r.min(self.run.start))
                        .unwrap_or_else(|| self.legato_onset(input.time, salience, self.last_off))
                        .max(not_before);
                    self.start(&mut out, onset, heard, StartPath::FromSilence);
                }
                Some(a)
                    if a.pitch == self.run.pitch
                        && self.run.strong >= c.repeat_stable_hops
                        && a.dip_db < a.swell_peak_db - c.swell_dip_db
                        && rise_db > a.dip_db + swell_rise_db
                        && rise_db >= a.swell_peak_db - c.swell_return_db
                        && input.level_db >= c.gate_db
                        && a.swell_peak_db - a.dip_db >= a.swing_db + c.swell_beat_margin_db
                        && a.dip_time >= a.since.saturating_add(swell_min_age)
                        && self.rearticulated(&a, input.time, salience) =>
                {
                    // Swell path: same pitch, level dipped and came back; dated from the rise
                    // of its salience out of the dip, else from the dip.
                    let rise = match (c.rise_swell, c.swell_rise_margin) {
                        (false, _) => None,
                        (true, None) => {
                            self.rise_date(input.time, salience, a.since + c.hop, None, true)
                        }
                        (true, Some(margin)) => {
                            let from = a.dip_time.saturating_sub(margin).max(a.since + c.hop);
                            self.rise_of(a.pitch, input.time, salience, from, None, true)
                        }
                    };
                    let onset = rise.unwrap_or(a.dip_time);
                    if self.start(&mut out, onset, heard, StartPath::Swell) {
                        if let (Some(new), Some(less)) = (self.active.as_mut(), c.swell_inherit_db)
                        {
                            new.swing_db = a.swell_peak_db - a.dip_db - less;
                        }
                    }
                }
                _ => {}
            }
        }

        // Named-share path: the estimate keeps coming back to a new semitone in short bursts.
        if out.on.is_none() && !chord && !input.polyphonic {
            if let (Some(pitch), Some(a)) = (named, self.active) {
                if self.named_takes_over(pitch, &a, input.time, salience) {
                    let not_before = a.since + c.hop;
                    if let Some(onset) =
                        self.rise_date(input.time, salience, not_before, Some(a.pitch), true)
                    {
                        self.start(&mut out, onset, heard, StartPath::LegatoFromNote);
                    }
                }
            }
        }

        // Release.
        if out.on.is_none() {
            if let Some(a) = self.active {
                let quiet =
                    input.level_db < c.gate_db || input.recent_db < a.peak_db - c.release_drop_db;
                if quiet || chords_began || self.unvoiced_hops >= c.unvoiced_release_hops {
                    let at = if quiet || chords_began {
                        input.time
                    } else {
                        self.unvoiced_since
                    };
                    out.off = Some((a.pitch, at));
                    self.last_off = at;
                    self.previous_note = Some((a.pitch, a.since, a.peak_db));
                    self.learn_swing(&a);
                    self.active = None;
                    self.faded = quiet.then_some((a.pitch, input.recent_db));
                    self.overtaken = None;
                }
            }
        }
        out
    }

    /// Extends or restarts the steady run with this hop's estimate (see [`Steady`]).
    /// Whether a run at `semitone`, heard at `confidence`, lies an octave, a twelfth or two
    /// octaves under the sounding note and is confident enough to be its true fundamental
    /// (see [`TrackerConfig::under_confidence`]).
    fn under_sounding(&self, semitone: u8, confidence: f32) -> bool {
        let c = &self.config;
        c.under_confidence > 0.0
            && confidence >= c.under_confidence
            && self
                .active
                .is_some_and(|a| matches!(i32::from(a.pitch) - i32::from(semitone), 12 | 19 | 24))
    }

    fn follow_steady(&mut self, input: &TrackerInput) {
        let c = &self.config;
        let heard = c.steady_hops > 0 && c.heard_steadily(input);
        if !heard {
            self.steady.hops = 0;
            return;
        }
        let rounded = input.midi.round().clamp(0.0, 127.0) as u8;
        let semitone = match self.active {
            Some(a) if (input.midi - a.pitch as f32).abs() <= c.vibrato_semitones => a.pitch,
            _ => rounded,
        };
        let s = &mut self.steady;
        if s.hops > 0 && s.pitch == semitone {
            s.hops = s.hops.saturating_add(1);
            s.lo = s.lo.min(input.midi);
            s.hi = s.hi.max(input.midi);
            // Detuned voices wander around the note (see `TrackerConfig::steady_max_spread`).
            let spread = if self.pending.is_none() {
                c.max_spread.max(c.steady_max_spread)
            } else {
                c.max_spread
            };
            if s.hi - s.lo <= spread {
                return;
            }
        }
        // A new semitone, or a glide wider than the spread allowed: count again from this hop.
        *s = Steady {
            pitch: if s.hops > 0 && s.pitch == semitone {
                rounded
            } else {
                semitone
            },
            hops: 1,
            lo: input.midi,
            hi: input.midi,
        };
    }

    /// The semitone this hop's estimate names for the named share (see
    /// [`TrackerConfig::named_share`]), when it is heard as for a steady run: the sounding
    /// note's within `vibrato_semitones` of it, else the nearest.
    fn heard_semitone(&self, input: &TrackerInput) -> Option<u8> {
        let c = &self.config;
        let heard = c.named_share > 0.0 && c.heard_steadily(input);
        if !heard {
            return None;
        }
        Some(match self.active {
            Some(a) if (input.midi - a.pitch as f32).abs() <= c.vibrato_semitones => a.pitch,
            _ => input.midi.round().clamp(0.0, 127.0) as u8,
        })
    }

    /// Whether `pitch`, named this hop, takes over from the sounding note `a` on its named
    /// share (see [`TrackerConfig::named_share`]): named on that share of the recent hops, the
    /// run at it not spent, not an octave or twelfth away, not the previous note ringing, and
    /// the sounding note's own partials fallen by `named_fall_db` over the share's window.
    fn named_takes_over(&self, pitch: u8, a: &Active, now: u64, salience: &Salience) -> bool {
        let c = &self.config;
        let interval = (i32::from(a.pitch) - i32::from(pitch)).abs();
        let window = c.named_share_hops as u64 * c.hop;
        if c.named_share <= 0.0
            || pitch == a.pitch
            || interval == 12
            || interval == 19
            || interval == 24
            || self.named.share(pitch) < c.named_share
            || now < a.since.saturating_add(window)
            || self.run.pitch != pitch
            || !self.run_ready()
            || self.overtaken == Some(pitch)
            || self.ringing_previous(self.run.hops.saturating_add(1), salience, false)
        {
            return false;
        }
        let mask = salience.exclusive_harmonics(a.pitch, Some(pitch), c.rise_min_bins);
        let Some(level) = salience.partial_value(a.pitch, mask, 0) else {
            return false;
        };
        let span = c
            .named_share_hops
            .min(salience.history_hops().saturating_sub(1));
        let highest = (1..=span)
            .map_while(|ago| salience.partial_value(a.pitch, mask, ago))
            .fold(level, f32::max);
        highest - level >= c.named_fall_db
    }

    /// Whether `pitch`, a step or two from the sounding note `old`, is read in between `old`
    /// and a louder note one or two semitones further on (see [`TrackerConfig::between_db`]):
    /// each compared on its own partials, those away from the other two notes' (mean energy
    /// per partial, so that masks of different sizes compare).
    fn read_between(&self, pitch: u8, old: u8, salience: &Salience) -> bool {
        let c = &self.config;
        let step = i32::from(pitch) - i32::from(old);
        if c.between_db <= 0.0 || step == 0 || step.abs() > 2 {
            return false;
        }
        let own = |p: u8, x: u8, y: u8| -> Option<(f32, u32)> {
            let mask = salience.exclusive_harmonics(p, Some(x), c.rise_min_bins)
                & salience.exclusive_harmonics(p, Some(y), c.rise_min_bins);
            let count = mask.count_ones();
            (count > 0).then_some(())?;
            let mean = salience.partial_value(p, mask, 0)? - 10.0 * (count as f32).log10();
            Some((mean, mask))
        };
        (1..=2).any(|further| {
            let beyond = i32::from(pitch) + step.signum() * further;
            let Ok(beyond) = u8::try_from(beyond) else {
                return false;
            };
            match (own(pitch, old, beyond), own(beyond, old, pitch)) {
                (Some((here, _)), Some((there, mask))) => {
                    // The note beyond is as salient as the reading (the other half of the
                    // mixture, not a stray partial of an inharmonic sound near its comb) and
                    // coming in (its partials rose), not an earlier note ringing on (a struck
                    // or plucked string's, which decays).
                    let level = |p: u8| salience.value(p, 0).unwrap_or(f32::NEG_INFINITY);
                    there - here >= c.between_db
                        && level(beyond) >= level(pitch) - c.between_level_db
                        && salience
                            .exclusive_below_since(
                                beyond,
                                mask,
                                c.salience_lookback_hops,
                                c.between_rise_db,
                            )
                            .is_some()
                }
                _ => false,
            }
        })
    }

    /// Follows the watched onset (see [`Settle`]): records its first stable pitch, and counts
    /// it in the running share once a pitch one or two semitones away holds after it (a
    /// settling attack) or once the window passed without one.
    fn watch_settle(&mut self, voiced: bool) {
        let c = &self.config;
        if !self.settle.open {
            return;
        }
        self.settle.hops = self.settle.hops.saturating_add(1);
        if self.settle.hops > c.settle_window_hops {
            self.close_settle();
            return;
        }
        if !voiced {
            return;
        }
        let held = self.run.hops >= c.onset_stable_hops;
        // A first reading that *Fast* tracking could already start (see
        // `TrackerConfig::settle_quick`).
        let quick = c.settle_quick
            && self.fast
            && self.run.hops >= c.fast_stable_hops
            && self.run.hi - self.run.lo <= c.fast_max_spread
            && self
                .pending
                .is_some_and(|p| p.peak_flux_ratio >= c.fast_flux_ratio);
        match self.settle.first {
            None if held || quick => self.settle.first = Some(self.run.pitch),
            None => {}
            Some(_) if !held => {}
            Some(first) => {
                let step = (i32::from(self.run.pitch) - i32::from(first)).abs();
                if (1..=2).contains(&step) {
                    self.count_settle(1.0);
                    self.settle.open = false;
                }
            }
        }
    }

    /// Whether this hop's reading is doubtful after a sharp attack (see
    /// [`TrackerConfig::doubt_off_centre`]): an onset is waiting, its flux peak was sharp, and
    /// the estimate lies between semitones or is weakly periodic.
    fn doubtful(&self, input: &TrackerInput, confidence: f32) -> bool {
        let c = &self.config;
        let sharp = self
            .pending
            .is_some_and(|p| p.peak_flux_ratio.max(input.flux_ratio) >= c.fast_flux_ratio);
        c.doubt_off_centre > 0.0
            && sharp
            && input.midi >= c.doubt_min_midi
            && ((input.midi - input.midi.round()).abs() >= c.doubt_off_centre
                || input.confidence < confidence)
    }

    /// Ends the watch of an onset: one that found a stable pitch and no settling counts as 0.
    fn close_settle(&mut self) {
        if self.settle.open && self.settle.first.is_some() {
            self.count_settle(0.0);
        }
        self.settle.open = false;
    }

    /// Moves the running share of settling attacks towards `value`.
    fn count_settle(&mut self, value: f32) {
        self.settle_share += self.config.settle_rate * (value - self.settle_share);
    }

    /// Whether the run's pitch is the previous note still ringing (see
    /// [`TrackerConfig::ring_rise_db`]): the note before the sounding one (or the last note
    /// that ended), or with `any` any pitch ([`TrackerConfig::ring_any`]), whose own partials
    /// did not rise from their lowest since `hops` hops ago.
    fn ringing_previous(&self, hops: u32, salience: &Salience, any: bool) -> bool {
        let c = &self.config;
        let pitch = self.run.pitch;
        let Some(min_rise) = c.ring_rise_db else {
            return false;
        };
        if !any && self.previous_note.map(|p| p.0) != Some(pitch) {
            return false;
        }
        let old = self.active.map(|a| a.pitch).filter(|&o| o != pitch);
        let mask = salience.exclusive_harmonics(pitch, old, c.rise_min_bins);
        if mask == 0 {
            return false;
        }
        // The rise from the lowest energy since the hop before the onset (or the run) to now:
        // a decaying partial's lowest is now; a new stroke or a returning voice climbs from a
        // valley. Bounded by the salience history.
        // Silent partials ring no note.
        let Some(now) = salience
            .partial_value(pitch, mask, 0)
            .filter(|&db| db > super::loudness::FLOOR_DB)
        else {
            return false;
        };
        let before = (hops as usize + 1).min(salience.history_hops().saturating_sub(1));
        let valley = (1..=before)
            .map_while(|ago| salience.partial_value(pitch, mask, ago))
            .fold(now, f32::min);
        now - valley < min_rise
    }

    /// How far back the legato path's ring check (`ring_legato`) looks for a rise of the
    /// previous note's partials: over the run, and back past the last onset when it fired after
    /// the sounding note `a`'s (dated) onset. A note struck again at the previous note's pitch
    /// whose attack the estimates misread (a bass's low octave, 30–120 ms) decays by the time
    /// its run begins: its rise is at the onset, before the run. The sounding note's own onset
    /// counts too (it fires after the onset the note is dated at). Two hops more than the time
    /// since it fired: the rise the check looks for began just before the detector fired. On
    /// the development split that scored 0.0003 more than counting only onsets after its
    /// NoteOn (7 renders of 11 better, two choirs among them).
    fn legato_ring_hops(&self, a: Active, now: u64) -> u32 {
        let run = self.run.hops.saturating_add(1);
        if self.last_fired <= a.since {
            return run;
        }
        let since_onset = now.saturating_sub(self.last_fired) / self.config.hop.max(1);
        run.max(u32::try_from(since_onset.saturating_add(2)).unwrap_or(u32::MAX))
    }

    /// Swell path: whether the sounding note's dip looks like a new attack (see
    /// *Re-articulation* in the module documentation): most of its partials dipped and rose at
    /// once, or the rise came with broadband flux.
    fn rearticulated(&self, a: &Active, now: u64, salience: &Salience) -> bool {
        let c = &self.config;
        if a.dip_flux >= c.swell_flux_ratio || c.swell_dip_share <= 0.0 {
            return true;
        }
        let hop = c.hop.max(1);
        let dip_ago = (now.saturating_sub(a.dip_time) / hop) as usize;
        let since_peak = (a.dip_time.saturating_sub(a.peak_time) / hop) as usize + 1;
        let span = if c.swell_span_peak {
            SWELL_SPAN_HOPS.max(since_peak)
        } else {
            SWELL_SPAN_HOPS
        };
        salience.dip_share(a.pitch, dip_ago, span, c.swell_partial_db) >= c.swell_dip_share
    }

    /// Whether the run may be judged: it started no note, and after a veto it has grown to
    /// `retry_at` hops.
    fn run_ready(&self) -> bool {
        !self.run.used && self.run.hops >= self.run.retry_at
    }

    /// Whether the run may start a note from silence: not the pitch that just faded below the
    /// gate, unless the level came clearly back up.
    fn rearmed(&self, recent_db: f32) -> bool {
        match self.faded {
            Some((pitch, db)) if pitch == self.run.pitch => recent_db >= db + self.config.rearm_db,
            _ => true,
        }
    }

    /// Best estimate of when the run's pitch really began: where its salience started rising,
    /// else the run's first hop minus the detector delay.
    fn legato_onset(&self, now: u64, salience: &Salience, not_before: u64) -> u64 {
        let c = &self.config;
        let fallback = self.run.start.saturating_sub(c.legato_backdate);
        if !c.use_salience {
            return fallback;
        }
        // Search only after the previous note had begun (plus a margin).
        let span = now.saturating_sub(not_before + c.salience_margin) / c.hop.max(1);
        let lookback = (span as usize).min(c.salience_lookback_hops);
        match salience.rise_start(self.run.pitch, lookback, c.salience_min_rise_db) {
            Some(ago) => now
                .saturating_sub(ago as u64 * c.hop)
                .saturating_sub(c.salience_backdate)
                .min(fallback.max(self.run.start)),
            None => fallback,
        }
    }

    /// Where the salience of the run's pitch began its current rise (stream samples, never
    /// before `not_before`): the last hop within `rise_lookback_hops` where it was still
    /// `rise_drop_db` below its value now, minus `rise_backdate`. Found once per run (kept for
    /// retries). `None` when the pitch's salience shows no such rise since `not_before`.
    fn rise_date(
        &mut self,
        now: u64,
        salience: &Salience,
        not_before: u64,
        old: Option<u8>,
        slow: bool,
    ) -> Option<u64> {
        if self.run.rise.is_some() {
            return self.run.rise;
        }
        self.run.rise = self.rise_of(self.run.pitch, now, salience, not_before, old, slow);
        self.run.rise
    }

    /// Where the salience of `pitch`'s partials away from `old`'s began its current rise (see
    /// [`NoteTracker::rise_date`]), never before `not_before`.
    fn rise_of(
        &self,
        pitch: u8,
        now: u64,
        salience: &Salience,
        not_before: u64,
        old: Option<u8>,
        slow: bool,
    ) -> Option<u64> {
        let c = &self.config;
        let hop = c.hop.max(1);
        let span = (now.saturating_sub(not_before) / hop) as usize;
        let lookback = span.min(c.rise_lookback_hops);
        let old = old.filter(|&o| o != pitch);
        let mask = salience.exclusive_harmonics(pitch, old, c.rise_min_bins);
        // Their rise over the search (dB, from their lowest there to now).
        let rise = salience
            .partial_value(pitch, mask, 0)
            .zip(salience.exclusive_lowest(pitch, mask, lookback))
            .map(|(now_db, valley)| now_db - valley);
        let drop_db = self.rise_mark(rise)?;
        let mut ago = salience.exclusive_below_since(pitch, mask, lookback, drop_db)?;
        if let (true, Some(rise)) = (slow && c.rise_slow_db > drop_db, rise) {
            // A slow swell: the climb from `drop_db` to `drop_db / 2` under now took at least
            // `rise_slow_hops`.
            let half = salience.exclusive_below_since(pitch, mask, lookback, drop_db / 2.0);
            let deep = c.rise_slow_db.min(rise * c.rise_weak_share);
            if deep > drop_db && half.is_some_and(|h| ago.saturating_sub(h) >= c.rise_slow_hops) {
                if let Some(a) = salience.exclusive_below_since(pitch, mask, lookback, deep) {
                    ago = a;
                }
            }
        }
        let (ago, backdate) = if c.rise_foot_db > 0.0 {
            let deepest = span.min(ago.saturating_add(c.rise_foot_hops));
            let foot = salience.exclusive_foot(pitch, mask, ago, deepest, c.rise_foot_db);
            (foot, c.rise_foot_backdate)
        } else {
            let habit = if slow {
                self.attack_habit.extra_backdate()
            } else {
                0
            };
            (ago, c.rise_backdate + habit)
        };
        Some(
            now.saturating_sub(ago as u64 * hop)
                .saturating_sub(backdate)
                .max(not_before),
        )
    }

    /// How far (dB) under their energy now a note's partials must have been where their rise
    /// is dated, given their `rise` over the search (from their lowest there to now):
    /// `rise_drop_db`, or `rise_weak_share` of the rise when that is less (see
    /// [`TrackerConfig::rise_weak_db`]). `None` when the rise is under `rise_weak_db`.
    fn rise_mark(&self, rise: Option<f32>) -> Option<f32> {
        let c = &self.config;
        if c.rise_weak_db <= 0.0 {
            return Some(c.rise_drop_db);
        }
        let rise = rise?;
        (rise >= c.rise_weak_db).then(|| c.rise_drop_db.min(rise * c.rise_weak_share))
    }

    /// The onset of an onset- or repeat-path note: `onset`, or the rise of its pitch's salience
    /// when the attack was soft (see `TrackerConfig::rise_onset_flux`) and the rise began
    /// earlier.
    fn soft_onset(&mut self, onset: u64, p: &Pending, now: u64, salience: &Salience) -> u64 {
        let c = self.config;
        if p.peak_flux_ratio >= c.rise_onset_flux {
            return onset;
        }
        let (not_before, old) = match self.active {
            Some(a) => (a.since + c.hop, Some(a.pitch)),
            None => (self.last_off + c.hop, None),
        };
        // Not from the slow-swell mark: an onset fired, and a soft attack's rise (a
        // clarinet's) is no pad's swell. Dated with the onset path's own backdate (see
        // `rise_onset_backdate`), never before `not_before`.
        self.rise_date(now, salience, not_before, old, false)
            .map_or(onset, |r| {
                r.saturating_add(c.rise_backdate)
                    .saturating_sub(c.rise_onset_backdate)
                    .max(not_before)
                    .min(onset)
            })
    }

    /// Starts the attack reader's `pitch` (see [`TrackerInput::attack`]) for the pending onset
    /// `p`, dated at that onset; the judge is not asked (its measures of a run of estimates do
    /// not apply). The run starts again at that pitch.
    fn start_read(
        &mut self,
        out: &mut TrackerOutput,
        pitch: u8,
        p: &Pending,
        input: &TrackerInput,
    ) {
        self.run = Run {
            pitch,
            start: input.time,
            hops: 1,
            strong: 1,
            used: false,
            retry_at: 0,
            lo: f32::from(pitch),
            hi: f32::from(pitch),
            rise: None,
        };
        // Dated at the onset: the flux peak and the departure from the old note, by which
        // the onset path dates soft attacks and glides, are not known yet.
        let onset = p.time;
        self.last_start = NoteStart {
            path: StartPath::Attack,
            pitch,
            features: Features::default(),
            decided: input.time,
            onset,
            accepted: true,
            fired: p.fired,
            run_start: input.time,
        };
        self.commit(out, pitch, onset, input);
        self.overtaken = None;
    }

    /// Starts the run's pitch at `onset` (ending the sounding note first), unless the judge
    /// vetoes it: then the run is spent (no path starts it again) and the sounding note goes
    /// on. Returns whether the note started.
    fn start(
        &mut self,
        out: &mut TrackerOutput,
        onset: u64,
        heard: Heard<'_>,
        path: StartPath,
    ) -> bool {
        let Heard {
            input,
            salience,
            frame,
        } = heard;
        let pitch = self.run.pitch;
        let c = &self.config;
        if (path == StartPath::LegatoFromNote || (path == StartPath::Onset && c.between_onset))
            && self
                .active
                .is_some_and(|a| self.read_between(pitch, a.pitch, salience))
        {
            // Not yet: the estimate is on its way to the note beyond (see `between_db`).
            return false;
        }
        let rate = c.sample_rate.max(1.0);
        let previous = self
            .active
            .map(|a| (a.pitch, a.since, a.peak_db))
            .or(self.previous_note);
        let rise_db = salience
            .rise(pitch, c.salience_lookback_hops, 0.0)
            .map_or(0.0, |r| r.rise_db);
        // The plain judge of starts at the sounding pitch does not read the frame model: it is
        // not run for them (three network passes saved; see `judge::PLAIN_HIDDEN`).
        let asked = frame.filter(|_| !path.at_sounding_pitch());
        let context = StartContext {
            path,
            run_s: (self.run.hops as u64 * c.hop) as f32 / rate,
            spread: self.run.hi - self.run.lo,
            confidence: input.confidence,
            flux_ratio: self.pending.map_or(0.0, |p| p.peak_flux_ratio),
            interval: previous.map_or(0, |(p, _, _)| i32::from(pitch) - i32::from(p)),
            after_note: previous.is_some(),
            since_previous_s: previous.map_or(0.0, |(_, since, _)| {
                input.time.saturating_sub(since) as f32 / rate
            }),
            level_vs_previous_db: previous.map_or(0.0, |(_, _, peak)| input.recent_db - peak),
            salience_rise_db: rise_db,
            polyphonic: input.polyphonic,
            off_centre: (input.midi - input.midi.round()).abs(),
            midi: f32::from(pitch),
            frame_now: asked.map_or(0.0, |f| f.probability_of(pitch, input.time, input.time)),
            frame_before: asked.map_or(0.0, |f| {
                f.probability_of(pitch, onset.saturating_sub(c.frame_before), input.time)
            }),
            frame_onset: asked.map_or(0.0, |f| f.probability_of(pitch, onset, input.time)),
        };
        let features = self.judge.features(&context);
        let strict = path == StartPath::Onset
            && c.reader_range
                .is_some_and(|(low, high)| (low..=high).contains(&pitch));
        // A retry is the same start asked again: it does not count twice in the habits.
        let accepted = if self.run.retry_at > 0 {
            self.judge.accepts(&features, strict)
        } else {
            self.judge.judge(&features, strict)
        };
        // An octave misread at the attack put right (see `TrackerConfig::octave_fix_hops`).
        let octave_fix = path == StartPath::LegatoFromNote
            && c.octave_fix_hops > 0
            && self.run.hops >= c.octave_fix_hops
            && self.run.strong >= self.run.hops
            && self.run.hi - self.run.lo <= OCTAVE_FIX_SPREAD
            && self.active.is_some_and(|a| {
                i32::from(pitch) - i32::from(a.pitch) == 12
                    && f32::from(a.pitch) < c.octave_fix_below_midi
                    && input.sounding_odd_db < -c.octave_fix_odd_db
            });
        let accepted = accepted || octave_fix;
        // The note put right began with the attack that was misread: it takes over that
        // note's onset, and the misread note, which never sounded, is not the one before.
        let (onset, before) = match self.active {
            Some(a) if octave_fix => (a.since, Some(self.previous_note)),
            _ => (onset, None),
        };
        self.last_start = NoteStart {
            path,
            pitch,
            features,
            decided: input.time,
            onset,
            accepted,
            fired: self.pending.map_or(0, |p| p.fired),
            run_start: self.run.start,
        };
        if !accepted {
            self.vetoed = self.vetoed.saturating_add(1);
            if c.judge_retry > 1.0 {
                let again = (self.run.hops as f32 * c.judge_retry).ceil() as u32;
                self.run.retry_at = again.max(self.run.hops.saturating_add(1));
            } else {
                self.run.used = true;
            }
            return false;
        }
        self.commit(out, pitch, onset, input);
        if let Some(before) = before {
            self.previous_note = before;
        }
        self.overtaken = None;
        true
    }

    /// Starts `pitch` at `onset`, ending the sounding note there.
    fn commit(&mut self, out: &mut TrackerOutput, pitch: u8, onset: u64, input: &TrackerInput) {
        if let Some(a) = self.active {
            self.previous_note = Some((a.pitch, a.since, a.peak_db));
            self.learn_swing(&a);
        }
        if let Some(a) = self.active.take() {
            out.off = Some((a.pitch, onset));
        }
        out.on = Some((pitch, velocity_from_db(input.recent_db), onset));
        self.active = Some(Active {
            pitch,
            since: onset,
            began: input.time,
            peak_db: input.recent_db,
            // Set on the next hop, on the swell path's own scale.
            swell_peak_db: super::loudness::FLOOR_DB,
            peak_time: input.time,
            dip_db: super::loudness::FLOOR_DB,
            dip_time: input.time,
            dip_flux: 0.0,
            swing_db: 0.0,
            held: HeldSwing::default(),
        });
        if self.run.pitch == pitch {
            self.run.used = true;
        }
        self.pending = None;
        self.steady_until = input.time;
        self.faded = None;
    }
}
