-- Dropping another database, after a statement on the same line.
SELECT 1; DROP DATABASE victim;
