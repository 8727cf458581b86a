-- waymark: additive
-- A new index only: the schedules with buffered slots are found without reading every schedule or every slot.
CREATE INDEX schedule_slots_buffered ON schedule_slots (schedule_id) WHERE decision = 'buffered';
