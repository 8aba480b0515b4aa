ardour {
	["type"]    = "dsp",
	name        = "Continuo check: MIDI counter",
	category    = "Utility",
	license     = "ISC",
	author      = "Continuo developers",
	description = [[Passes everything through and counts the MIDI events it sees: controller changes (any, and sustain pedal down), notes, others. `cargo xtask ardour` installs it in its private Ardour home and reads the counts.]]
}

-- shmem slots: 0 controller changes, 1 sustain-pedal-down changes (CC 64 >= 64), 2 note-ons,
-- 3 other events.

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = -1, audio_out = -1 }, }
end

function dsp_init (rate)
	self:shmem():allocate(4)
	self:shmem():clear()
end

function dsp_configure (ins, outs)
	n_out = outs
end

function dsp_runmap (bufs, in_map, out_map, n_samples, offset)
	ARDOUR.DSP.process_map (bufs, n_out, in_map, out_map, n_samples, offset)
	local ib = in_map:get (ARDOUR.DataType ("midi"), 0)
	if ib == ARDOUR.ChanMapping.Invalid then return end
	local shm = self:shmem()
	for _, e in pairs (bufs:get_midi (ib):table ()) do
		local ev = e:buffer():array()
		local status = ev[1] & 0xf0
		if status == 0xb0 then
			shm:atomic_set_int(0, shm:atomic_get_int(0) + 1)
			if ev[2] == 64 and ev[3] >= 64 then shm:atomic_set_int(1, shm:atomic_get_int(1) + 1) end
		elseif status == 0x90 and ev[3] > 0 then
			shm:atomic_set_int(2, shm:atomic_get_int(2) + 1)
		else
			shm:atomic_set_int(3, shm:atomic_get_int(3) + 1)
		end
	end
end
