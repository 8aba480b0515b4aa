-- Continuo in Ardour (VST3), headless: run by `cargo xtask ardour` with Ardour's Lua session
-- tool (`ardour7-lua` or `ardour8-lua`) on the "None (Dummy)" backend, whose inputs play sine
-- waves. Prints `RESULT <name> <values>` lines; the xtask checks them.
--
-- Arguments: the session folder to create, Continuo's VST3 unique id, the names of its factory
-- presets joined by `|`, and the engine's sample rate and block size (48000 and 256 if left out).

local folder, uid, presets, rate, block = ...
if not folder and arg then folder, uid, presets, rate, block = arg[1], arg[2], arg[3], arg[4], arg[5] end
assert(folder and uid and presets, "usage: tracks.lua SESSION_FOLDER VST3_UID 'PRESET|PRESET…' [RATE BLOCK]")
rate = tonumber(rate) or 48000
block = tonumber(block) or 256

local function say(...)
  local t = {}
  for _, v in ipairs({ ... }) do t[#t + 1] = tostring(v) end
  print(table.concat(t, " "))
  io.stdout:flush()
end

local function fmt(x) return string.format("%.2f", x) end

AudioEngine:set_backend("None (Dummy)", "", "")
AudioEngine:set_device_name("Sine Wave")
AudioEngine:set_sample_rate(rate)
AudioEngine:set_buffer_size(block)
assert(AudioEngine:start(false) == 0, "the dummy audio engine did not start")

-- Tracks' inputs are wired by this script alone: Ardour's auto-connect runs on a thread of its
-- own and could add a second capture port to an input after the script wired it.
ARDOUR.config():set_input_auto_connect(ARDOUR.AutoConnectOption.ManualConnect)

local name = "continuo"
assert(create_session(folder, name, rate), "could not create a session")
say("RESULT engine", Session:nominal_sample_rate(), Session:get_block_size())

local captures = C.StringVector()
AudioEngine:get_physical_inputs(ARDOUR.DataType("audio"), captures, 0, 0)
captures = captures:table()
assert(#captures >= 2, "the dummy backend has fewer than two inputs")

-- A track of `channels` inputs fed by the first capture ports, heard through its input.
local function track(channels, label)
  local list = Session:new_audio_track(channels, 2, nil, 1, label,
    ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
  local tr = list:front()
  tr:input():disconnect_all(nil)
  for c = 1, channels do tr:input():audio(c - 1):connect(captures[c]) end
  tr:monitoring_control():set_value(ARDOUR.MonitorChoice.MonitorInput, PBD.GroupControlDisposition.NoGroup)
  return tr
end

-- The peaks (dBFS) of the master bus's two sides over 1.5 s, with only `tr` playing.
local function master_peaks(tr)
  for r in Session:get_tracks():iter() do r:set_active(r == tr, nil) end
  ARDOUR.LuaAPI.usleep(300000)
  local m = Session:master_out():peak_meter()
  m:reset_max()
  ARDOUR.LuaAPI.usleep(1500000)
  return m:meter_level(0, ARDOUR.MeterType.MeterMaxPeak), m:meter_level(1, ARDOUR.MeterType.MeterMaxPeak)
end

local function continuo()
  local p = ARDOUR.LuaAPI.new_plugin(Session, uid, ARDOUR.PluginType.VST3, "")
  assert(not p:isnil(), "Ardour could not load Continuo (VST3 " .. uid .. ")")
  return p
end

local function param_index(plugin, label)
  for i = 0, plugin:parameter_count() - 1 do
    if plugin:parameter_is_input(i) and plugin:parameter_label(i) == label then return i end
  end
  error("no parameter " .. label)
end

-- 1. A mono track, without and with Continuo.
local mono = track(1, "mono")
local l, r = master_peaks(mono)
say("RESULT mono-without", fmt(l), fmt(r))
local p = continuo()
assert(mono:add_processor_by_index(p, 0, nil, true) == 0, "Continuo was not added to the mono track")
local ins = p:to_insert()
say("RESULT mono-pins", ins:input_streams():n_audio(), ins:output_streams():n_audio())
l, r = master_peaks(mono)
say("RESULT mono-with", fmt(l), fmt(r))

-- 2. A stereo track, without and with Continuo.
local stereo = track(2, "stereo")
l, r = master_peaks(stereo)
say("RESULT stereo-without", fmt(l), fmt(r))
local q = continuo()
assert(stereo:add_processor_by_index(q, 0, nil, true) == 0, "Continuo was not added to the stereo track")
-- For step 4: MIDI thru on, and only the note input heard (the sine waves would be notes sent on
-- with thru). Neither changes the audio.
do
  local plugin = q:to_insert():plugin(0)
  ARDOUR.LuaAPI.set_processor_param(q, param_index(plugin, "Input source"), 1)
  ARDOUR.LuaAPI.set_processor_param(q, param_index(plugin, "MIDI thru"), 1)
end
l, r = master_peaks(stereo)
say("RESULT stereo-with", fmt(l), fmt(r))

-- 3. Deactivated and activated again while the engine runs (Ardour re-activates on its
-- process thread when it rewires a plugin).
q:deactivate()
ARDOUR.LuaAPI.usleep(200000)
q:activate()
l, r = master_peaks(stereo)
say("RESULT stereo-reactivated", fmt(l), fmt(r))

-- 4. Continuo's notes recorded on a MIDI track: an audio track plays a melody (`melody.lua`,
-- installed by the xtask, C4 E4 G4 C5 again and again) into Continuo with MIDI thru on; the
-- track gets a MIDI output, wired to an armed MIDI track, and the transport records 3 s.
local voice = track(1, "voice")
local melody = ARDOUR.LuaAPI.new_luaproc(Session, "Continuo check: melody")
assert(not melody:isnil(), "the melody script is not installed")
assert(voice:add_processor_by_index(melody, 0, nil, true) == 0, "the melody was not added")
local hears = continuo()
assert(voice:add_processor_by_index(hears, 1, nil, true) == 0, "Continuo was not added to the voice track")
ARDOUR.LuaAPI.set_processor_param(hears, param_index(hears:to_insert():plugin(0), "MIDI thru"), 1)
voice:output():add_port("", nil, ARDOUR.DataType("midi"))
local answers = Session:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1),
  ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2), false, ARDOUR.PluginInfo(), nil, nil, 1, "answers",
  ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
answers:input():disconnect_all(nil)
assert(answers:input():midi(0):connect(voice:output():midi(0):name()) == 0, "could not wire the MIDI track")
answers:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
for r in Session:get_tracks():iter() do r:set_active(r == voice or r == answers, nil) end
ARDOUR.LuaAPI.usleep(500000)
Session:maybe_enable_record(false)
Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep(3000000)
Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep(1000000)
local keys = {}
for region in answers:playlist():region_list():iter() do
  for note in ARDOUR.LuaAPI.note_list(region:to_midiregion():model()):iter() do
    keys[#keys + 1] = note:note()
  end
end
say("RESULT recorded-keys", table.concat(keys, " "))
answers:rec_enable_control():set_value(0, PBD.GroupControlDisposition.NoGroup)
for r in Session:get_tracks():iter() do r:set_active(true, nil) end

-- Steps 5 and 6: on `tr` (inactive while it is built, so its source starts with the track) the
-- Lua DSP `source` of this check, then Continuo with `settings` ({ parameter label = value }),
-- then a MIDI counter; the track alone is then made active. Returns the source and the
-- counter's shared memory (slot 2: note-ons after Continuo).
local function answering_chain(tr, source, settings)
  tr:set_active(false, nil)
  local first = ARDOUR.LuaAPI.new_luaproc(Session, source)
  assert(not first:isnil(), source .. " is not installed")
  assert(tr:add_processor_by_index(first, 0, nil, true) == 0, source .. " was not added")
  local answering = continuo()
  assert(tr:add_processor_by_index(answering, 1, nil, true) == 0, "Continuo was not added")
  for label, value in pairs(settings) do
    ARDOUR.LuaAPI.set_processor_param(answering, param_index(answering:to_insert():plugin(0), label), value)
  end
  local counter = ARDOUR.LuaAPI.new_luaproc(Session, "Continuo check: MIDI counter")
  assert(tr:add_processor_by_index(counter, 2, nil, true) == 0, "the MIDI counter was not added")
  return first, counter:to_insert():plugin(0):to_luaproc():shmem()
end

local function play_only(tr)
  for r in Session:get_tracks():iter() do r:set_active(r == tr, nil) end
end

-- The note-ons counted `during` µs from now (the phrase played, no answer yet) and `after` µs
-- later, as `RESULT <name>-during-call` and `RESULT <name>-notes`; then `tr` stops.
local function note_counts(tr, shm, name, during, after)
  ARDOUR.LuaAPI.usleep(during)
  say("RESULT " .. name .. "-during-call", shm:atomic_get_int(2))
  ARDOUR.LuaAPI.usleep(after)
  say("RESULT " .. name .. "-notes", shm:atomic_get_int(2))
  tr:set_active(false, nil)
end

-- 5. Continuo answers: the melody played once into Continuo (its defaults: call and response,
-- MIDI thru off) on a track of its own, the transport stopped (a player jamming). Nothing goes
-- out while the melody plays; notes go out once it has ended.
do
  local call = track(1, "call")
  local once, shm = answering_chain(call, "Continuo check: melody", {})
  ARDOUR.LuaAPI.set_processor_param(once, 0, 1)
  play_only(call)
  -- The melody's four notes take 1.6 s from the track's start.
  note_counts(call, shm, "answer", 1400000, 6000000)
end

-- 6. A keyboard player's MIDI track: MIDI notes (`keys.lua`: the same phrase, once) into
-- Continuo with *Input source* MIDI and MIDI thru on: the four notes go through while they are
-- played, the answer follows.
do
  local keyboard = Session:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1),
    ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2), false, ARDOUR.PluginInfo(), nil, nil, 1, "keys",
    ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
  keyboard:input():disconnect_all(nil)
  local _, shm = answering_chain(keyboard, "Continuo check: keys",
    { ["Input source"] = 1, ["MIDI thru"] = 1 })
  play_only(keyboard)
  -- The track starts a little after it is asked to: the times count from the first note out.
  local waited = 0
  while shm:atomic_get_int(2) == 0 and waited < 40 do
    ARDOUR.LuaAPI.usleep(50000)
    waited = waited + 1
  end
  -- The four notes from 0 to 1.55 s; an answer waits for the gap (a beat, 0.5 s at 120 bpm).
  note_counts(keyboard, shm, "keys", 1700000, 5500000)
end
for r in Session:get_tracks():iter() do r:set_active(r:name() ~= "call" and r:name() ~= "keys", nil) end

-- 7. The session saved and opened again keeps a parameter's value, and the reload plays no
-- MIDI: with MIDI thru on and the note input as the only source (step 2), a counter of the MIDI
-- events after Continuo (`midi_count.lua`, installed by the xtask), nothing played into it.
local plugin = q:to_insert():plugin(0)
local transpose = param_index(plugin, "Transpose")
ARDOUR.LuaAPI.set_processor_param(q, transpose, 7)
local counter = ARDOUR.LuaAPI.new_luaproc(Session, "Continuo check: MIDI counter")
assert(not counter:isnil(), "the MIDI counter script is not installed")
assert(stereo:add_processor_by_index(counter, 1, nil, true) == 0, "the MIDI counter was not added")

local function midi_counts(proc)
  ARDOUR.LuaAPI.usleep(1000000)
  local shm = proc:to_insert():plugin(0):to_luaproc():shmem()
  return shm:atomic_get_int(0), shm:atomic_get_int(1), shm:atomic_get_int(2), shm:atomic_get_int(3)
end
say("RESULT midi-before-reload", midi_counts(counter))
ARDOUR.LuaAPI.usleep(500000)
say("RESULT transpose-set", fmt(ARDOUR.LuaAPI.get_processor_param(q, transpose)))
assert(Session:save_state("", false, false, false, false, false) == 0, "the session was not saved")
close_session()
assert(load_session(folder, name), "could not open the saved session")
local reloaded = nil
for t in Session:get_tracks():iter() do
  if t:name() == "stereo" then reloaded = t end
end
assert(reloaded, "the stereo track is gone")
local proc = reloaded:nth_plugin(0)
assert(not proc:isnil(), "Continuo is gone from the reloaded track")
say("RESULT transpose-reloaded", fmt(ARDOUR.LuaAPI.get_processor_param(proc, transpose)))
local counted = reloaded:nth_plugin(1)
assert(not counted:isnil(), "the MIDI counter is gone from the reloaded track")
say("RESULT midi-after-reload", midi_counts(counted))
l, r = master_peaks(reloaded)
say("RESULT stereo-reloaded", fmt(l), fmt(r))

-- 8. The factory presets (Continuo's VST3 program list) and a user preset (written as a VST3
-- preset file into the user's VST3 preset folder by the xtask) are in Ardour's presets (its Lua
-- API finds a plugin's presets by label, so each name is looked up), and loading Wild sets what
-- it says: its temperature, and Transpose back to its default from the 7 set above.
local plugin = proc:to_insert():plugin(0)
local listed = {}
for label in string.gmatch(presets, "[^|]+") do
  local p = plugin:preset_by_label(label)
  if p and p.valid then listed[#listed + 1] = p.label end
end
say("PRESETS " .. table.concat(listed, "|"))
local wild = plugin:preset_by_label("Wild")
assert(wild and wild.valid, "Ardour lists no preset named Wild")
say("WILD " .. wild.uri)
say("RESULT preset-loaded", plugin:load_preset(wild) and 1 or 0)
ARDOUR.LuaAPI.usleep(200000)
local temperature = param_index(plugin, "Temperature")
say("RESULT preset-temperature", fmt(ARDOUR.LuaAPI.get_processor_param(proc, temperature)))
say("RESULT preset-transpose", fmt(ARDOUR.LuaAPI.get_processor_param(proc, transpose)))
close_session()
say("RESULT done 1")
