-- Switching to another database and writing into it.
SELECT 1; \c victim
INSERT INTO precious VALUES (99);
