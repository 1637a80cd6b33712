-- Dropping the maintenance database, behind a comment.
/* */ DROP DATABASE postgres;
