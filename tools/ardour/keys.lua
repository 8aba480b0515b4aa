ardour {
	["type"]    = "dsp",
	name        = "Continuo check: keys",
	category    = "Utility",
	license     = "ISC",
	author      = "Continuo developers",
	description = [[A keyboard player for `cargo xtask ardour`: sends C4, E4, G4, C5 as MIDI notes (velocity 100, 0.35 s long, 0.4 s apart) once, from when it starts running, and passes its MIDI input on.]]
}

local keys = { 60, 64, 67, 72 }
local step = 0.4 -- seconds from one note to the next
local length = 0.35 -- seconds each note is held
local rate = 48000
local pos = 0 -- samples since the start

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = 0, audio_out = 0 }, }
end

function dsp_init (r)
	rate = r
end

function dsp_run (_, _, n_samples)
	local cnt = 1
	local function send (time, data)
		midiout[cnt] = { time = time, data = data }
		cnt = cnt + 1
	end
	for _, b in pairs (midiin) do
		send (b["time"], b["data"])
	end
	local per = math.floor(step * rate)
	local held = math.floor(length * rate)
	for i, key in ipairs (keys) do
		local on = (i - 1) * per
		local off = on + held
		if on >= pos and on < pos + n_samples then send (on - pos + 1, { 0x90, key, 100 }) end
		if off >= pos and off < pos + n_samples then send (off - pos + 1, { 0x80, key, 0 }) end
	end
	pos = pos + n_samples
end
