#!/bin/sh
# Rebuilds the tar corpus with GNU tar: hostile names and links written the way a tampered or
# careless tool writes them. Files named refused-* must be refused by the unpacker.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
t() { tar --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name "$@"; }

mkdir -p src/a && printf 'hello\n' > src/a/b.txt
ln -s b.txt src/a/c
ln src/a/b.txt src/a/d
(cd src && t -cf "$here/files.tar" a)

long=$(printf 'n%.0s' $(seq 1 60))/$(printf 'm%.0s' $(seq 1 60))
mkdir -p "src/$long" && printf 'x' > "src/$long/f"
(cd src && t -cf "$here/long-name.tar" "$long")
(cd src && t -cPf "$here/refused-long-name-climbing-out.tar" --transform 's,^n,../n,' "$long/f")

mkdir -p u && printf 'x' > u/f
(cd u && t --format=pax -cf "$here/pax-unicode-name.tar" --transform 's,^f$,ünï€ode,' f)
(cd u && t --format=pax -cPf "$here/refused-pax-climbing-out.tar" --transform 's,^f$,../../f,' f)
(cd u && t -cPf "$here/refused-dotdot.tar" --transform 's,^f$,../escape.txt,' f)
(cd u && t -cPf "$here/refused-absolute.tar" --transform 's,^f$,/tmp/escape.txt,' f)

mkdir -p l1 && ln -s ../../outside l1/up
(cd l1 && t -cf "$here/refused-symlink-out.tar" up)
mkdir -p l2 && ln -s /etc l2/etc
(cd l2 && t -cf "$here/refused-symlink-absolute.tar" etc)
mkdir -p l3/sub && ln -s sub l3/d && printf 'x' > l3/sub/f
(cd l3 && t -cf "$here/refused-write-through-a-symlink.tar" --transform 's,^sub/f$,d/f,' d sub/f)
mkdir -p l4 && ln -s . l4/x && ln -s x/.. l4/a
(cd l4 && t -cf "$here/refused-symlink-chain-out.tar" x a)
mkdir -p h && printf 'x' > h/f && ln h/f h/g
(cd h && t -cPf "$here/refused-hardlink-out.tar" --transform 's,^f$,../f,RSh' f g)

mkdir -p s && mkfifo s/p
(cd s && t -cf "$here/refused-fifo.tar" p)
mkdir -p dev && mknod dev/null c 1 3
(cd dev && t -cf "$here/refused-device.tar" null)
