-- A COPY line inside a comment, so a line-based filter takes what follows for COPY data.
/*
COPY x FROM stdin;
*/
\! env > @OUT@/shell_escape_after_fake_copy
SELECT 1;
