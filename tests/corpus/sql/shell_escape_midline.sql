-- A shell command after a statement on the same line.
SELECT 1; \! env > @OUT@/shell_escape_midline
