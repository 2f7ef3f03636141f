-- papertwap schema, version 5: what the lab needs to re-run a slice exactly.

-- When the last venue event of the book a slice used was received (ns; one venue's slices):
-- a what-if runs the slice against exactly that book from the tape.
ALTER TABLE slices ADD COLUMN book_ns INTEGER;
-- The quantity the venue showed at each fill's level, parallel to `fills`: ["0.8", …].
ALTER TABLE slices ADD COLUMN fill_shown TEXT;
