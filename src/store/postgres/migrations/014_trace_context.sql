-- waymark: additive
-- The W3C traceparent a task's worker continues (the span that scheduled it), when the run is traced.
ALTER TABLE tasks ADD COLUMN traceparent text;
