-- waymark: breaking — task input, output and logs become text: older code expects jsonb (parsed values, appends)
-- Task inputs, outputs and logs are kept as JSON text, like every other JSON value: losslessly (jsonb refuses
-- NUL characters and lone surrogates, and reorders object keys).
ALTER TABLE tasks ALTER COLUMN input TYPE text USING input::text;
ALTER TABLE tasks ALTER COLUMN output TYPE text USING output::text;
ALTER TABLE tasks ALTER COLUMN logs DROP DEFAULT;
ALTER TABLE tasks ALTER COLUMN logs TYPE text USING logs::text;
ALTER TABLE tasks ALTER COLUMN logs SET DEFAULT '[]';
