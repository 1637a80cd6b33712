-- Another database made unusable, after a statement on the same line.
SELECT 1; ALTER DATABASE victim ALLOW_CONNECTIONS false;
