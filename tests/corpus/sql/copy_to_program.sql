-- A command run on the server as its OS user.
COPY (SELECT 1) TO PROGRAM 'env > @OUT@/copy_to_program';
