SELECT 1;
  cReAtE	  DaTaBaSe x;
