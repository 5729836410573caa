# install.sh — `make install` honours PREFIX and DESTDIR, and the installed binary runs.
. tests/lib.sh "$1"
root="$T_WORK/root"
t_ok "make install" make -s install BUILD="$BUILD" PREFIX=/opt/chuda DESTDIR="$root"
t_ok "chuda installed under PREFIX in DESTDIR" test -x "$root/opt/chuda/bin/chuda"
t_ok "the simulator too" test -x "$root/opt/chuda/bin/chuda-sim"
t_ok "templates" test -f "$root/opt/chuda/share/chuda/templates/cart_abandoned.ini"
t_ok "example config and systemd unit" test -f "$root/opt/chuda/share/doc/chuda/chuda.conf.example" -a -f "$root/opt/chuda/share/doc/chuda/chuda.service"
t_match "the installed binary runs" "usage: chuda" "$("$root/opt/chuda/bin/chuda" --help)"
t_ok "make uninstall" make -s uninstall PREFIX=/opt/chuda DESTDIR="$root"
t_fails "gone" test -e "$root/opt/chuda/bin/chuda"
t_done
