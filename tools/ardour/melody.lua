ardour {
	["type"]    = "dsp",
	name        = "Continuo check: melody",
	category    = "Utility",
	license     = "ISC",
	author      = "Continuo developers",
	description = [[Replaces its input with a played melody for `cargo xtask ardour`: C4, E4, G4, C5 as plucked tones (four partials, 5 ms attack, decaying), 0.4 s apart, again and again, or the given number of times and then silence.]]
}

local keys = { 60, 64, 67, 72 }
local step = 0.4 -- seconds from one note to the next
local rate = 48000
local pos = 0 -- samples since the start

function dsp_ioconfig ()
	return { { audio_in = 1, audio_out = 1 }, }
end

function dsp_params ()
	return { { ["type"] = "input", name = "Times", min = 0, max = 100, default = 0, integer = true, doc = "how often the melody plays (0: without end)" } }
end

function dsp_init (r)
	rate = r
end

function dsp_run (ins, outs, n_samples)
	local out = outs[1]:array()
	local per = math.floor(step * rate)
	local times = CtrlPorts:array()[1]
	-- With a number of times, the last note rings for three steps, then silence.
	local ends = times > 0 and (times * #keys + 2) * per or math.huge
	for i = 1, n_samples do
		local k = math.min(math.floor(pos / per), times > 0 and times * #keys - 1 or math.huge)
		local t = (pos - k * per) / rate
		local hz = 440 * 2 ^ ((keys[k % #keys + 1] - 69) / 12)
		local env = math.min(t / 0.005, 1) * math.exp(-t * 4)
		local x = 0
		for h = 1, 4 do
			x = x + math.sin(2 * math.pi * hz * h * t) / h
		end
		out[i] = pos < ends and 0.25 * env * x or 0
		pos = pos + 1
	end
end
