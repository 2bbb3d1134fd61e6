# acmed: plain GNU make.  Variants: SANITIZE=1 (ASan+UBSan), CC=clang.
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
UNITDIR	?= /lib/systemd/system
PKGS	 = libcurl openssl yaml-0.1 libsystemd sqlite3 jansson

CC	?= cc
CPPFLAGS += -D_GNU_SOURCE -iquote common -iquote config -iquote daemon
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wpointer-arith \
	   -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations \
	   -Wformat=2 -Wvla -Wcast-qual -Wwrite-strings -Wundef \
	   -Wimplicit-fallthrough -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	   -fPIE -MMD -MP
LDFLAGS	+= -pie -Wl,-z,relro,-z,now
LDLIBS	+= -lpthread

ifeq ($(SANITIZE),1)
BUILD	 = build/asan
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all -U_FORTIFY_SOURCE
LDFLAGS	+= -fsanitize=address,undefined
else
BUILD	?= build/$(notdir $(CC))
endif

# pkg-config only once the dependency step has run (see deps).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: daemon/http.c opens it on first use (dlopen), so
# that the processes that never talk to a CA do not map it.
PKG_LIBS   = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null) -ldl

COMMON	= common/b64.c common/clock.c common/crypto.c common/fs.c \
	  common/json.c common/log.c
CONFIG	= config/cfg.c
DAEMON	= daemon/account.c daemon/admin.c daemon/bus.c daemon/acme.c daemon/acme_order.c daemon/alpn.c daemon/ari.c daemon/challenge.c daemon/deploy.c daemon/hook.c daemon/http.c \
	  daemon/journal.c daemon/jws.c daemon/notify.c daemon/renew.c daemon/sched.c daemon/solve.c \
	  daemon/store.c
LIBSRC	= $(COMMON) $(CONFIG) $(DAEMON)
LIBOBJ	= $(LIBSRC:%.c=$(BUILD)/%.o)
UNIT	= $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

all: deps $(BUILD)/acmed
ifneq ($(SANITIZE),1)
	@ln -sf $(BUILD)/acmed acmed
endif

deps:
	@bash contrib/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/acmed: $(LIBOBJ) $(BUILD)/daemon/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

unit-bins: $(UNIT:%=$(BUILD)/tests/%) $(BUILD)/tests/helpers/fake_systemd

# make check: unit + integration tests on the normal build, the same under
# ASan+UBSan, and the unit tests under valgrind; one overall result line.
# The tree must also build warning-free with clang, so check builds that too
# (into build/clang, leaving ./acmed pointing at the cc build).
check: all unit-bins
	@$(MAKE) --no-print-directory CC=clang build/clang/acmed unit-bins >/dev/null
	@$(MAKE) --no-print-directory SANITIZE=1 all unit-bins >/dev/null
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 bash tests/run.sh $(BUILD):all build/asan:all $(BUILD):unit:valgrind

check-unit: all unit-bins
	@bash tests/run.sh $(BUILD):unit

demo: all
	@bash contrib/demo.sh $(BUILD)/acmed

# make bench: figures against targets (tests/bench/bench.sh; a few minutes;
# Pebble on 127.0.0.1, so on a shared machine run it under unshare -n).
bench: all
	@bash tests/bench/bench.sh $(BUILD)/acmed

# Fuzz harnesses (tests/fuzz/fuzz_*.c).  For make check each is linked with
# tests/fuzz/replay.c and replays its kept corpus (test_fuzz_corpus.sh);
# make fuzz builds them with clang and libFuzzer in build/fuzz and runs each
# for FUZZ_SECONDS.
FUZZ	= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_WRAP_fuzz_acme = -Wl,--wrap=http_request -Wl,--wrap=nanosleep
ifeq ($(FUZZ_ENGINE),libfuzzer)
CFLAGS	+= -O1 -fsanitize=fuzzer-no-link,address,undefined \
	   -fno-omit-frame-pointer -fno-sanitize-recover=all -U_FORTIFY_SOURCE
FUZZ_MAIN = -fsanitize=fuzzer,address,undefined
else
FUZZ_MAIN = $(BUILD)/tests/fuzz/replay.o
endif
CPPFLAGS += -iquote tests/fuzz

$(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIBOBJ) $(filter %.o,$(FUZZ_MAIN))
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $(FUZZ_WRAP_$*) -o $@ $^ $(filter-out %.o,$(FUZZ_MAIN)) $(PKG_LIBS) $(LDLIBS)

fuzz-bins: $(FUZZ:%=$(BUILD)/tests/fuzz/%)
unit-bins: fuzz-bins

fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz FUZZ_ENGINE=libfuzzer fuzz-bins
	@bash tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ)

.PHONY: fuzz fuzz-bins

# make install: PREFIX (default /usr/local) and DESTDIR as usual.  The unit,
# sysusers.d and tmpfiles.d files go where systemd reads a package's files
# whatever PREFIX is (UNITDIR above, SYSUSERSDIR, TMPFILESDIR); the example
# configuration to /etc/acmed, named *.yaml.example so that it is not read.
MANDIR		?= $(PREFIX)/share/man
DATADIR		?= $(PREFIX)/share/acmed
DOCDIR		?= $(PREFIX)/share/doc/acmed
COMPLETIONDIR	?= $(PREFIX)/share/bash-completion/completions
SYSUSERSDIR	?= /usr/lib/sysusers.d
TMPFILESDIR	?= /usr/lib/tmpfiles.d
CONFDIR		?= /etc/acmed
INSTALL_HOOKS	 = $(wildcard contrib/hooks/*)
INSTALL_EXAMPLES = $(wildcard contrib/examples/*.yaml)

# The man pages, examples and hooks name the default PREFIX's paths; the
# installed copies name the real ones.
FIXPATHS = sed -e 's|/usr/local/share/acmed|$(DATADIR)|g' \
	   -e 's|/usr/local/share/doc/acmed|$(DOCDIR)|g' \
	   -e 's|/usr/local/sbin/acmed|$(SBINDIR)/acmed|g'

install: all
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	    systemd/acmed.service.in >$(BUILD)/acmed.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(CONFDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(DATADIR)/hooks $(DESTDIR)$(DATADIR)/polkit \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BUILD)/acmed $(DESTDIR)$(SBINDIR)/acmed
	install -m 0644 $(BUILD)/acmed.service $(DESTDIR)$(UNITDIR)/acmed.service
	install -m 0644 systemd/acmed.sysusers $(DESTDIR)$(SYSUSERSDIR)/acmed.conf
	install -m 0644 systemd/acmed.tmpfiles $(DESTDIR)$(TMPFILESDIR)/acmed.conf
	$(FIXPATHS) man/acmed.8 >$(DESTDIR)$(MANDIR)/man8/acmed.8
	$(FIXPATHS) man/acmed.yaml.5 >$(DESTDIR)$(MANDIR)/man5/acmed.yaml.5
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/acmed.8 $(DESTDIR)$(MANDIR)/man5/acmed.yaml.5
	install -m 0644 config/acmed.example.yaml $(DESTDIR)$(CONFDIR)/acmed.yaml.example
	for f in $(INSTALL_HOOKS); do \
	    $(FIXPATHS) $$f >$(DESTDIR)$(DATADIR)/hooks/$${f##*/} && \
	    chmod 0755 $(DESTDIR)$(DATADIR)/hooks/$${f##*/} || exit 1; \
	done
	install -m 0644 contrib/polkit/50-acmed.rules $(DESTDIR)$(DATADIR)/polkit/
	install -m 0644 contrib/completion/acmed.bash $(DESTDIR)$(COMPLETIONDIR)/acmed
	install -m 0644 README.md LICENSE $(DESTDIR)$(DOCDIR)/
	for f in $(INSTALL_EXAMPLES); do \
	    $(FIXPATHS) $$f >$(DESTDIR)$(DOCDIR)/examples/$${f##*/} && \
	    chmod 0644 $(DESTDIR)$(DOCDIR)/examples/$${f##*/} || exit 1; \
	done

clean:
	rm -rf build acmed

.PHONY: all deps check check-unit unit-bins demo bench install clean
.SECONDARY:

-include $(shell find build -name '*.d' 2>/dev/null)
