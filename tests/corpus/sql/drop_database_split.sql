-- Dropping another database, the statement split over two lines.
DROP
DATABASE victim;
