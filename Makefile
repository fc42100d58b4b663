# Pacer: two commands for a fresh Debian machine.
#   make run   installs what is missing, builds (release), starts a local cluster (`pacer up`)
#   make test  installs what is missing, builds, runs every test
SWIFT ?= swift
# System packages the build and the tests need (checked one by one; only missing ones are installed).
APT_PACKAGES := libevent-dev libssl-dev pkg-config libsqlite3-dev python3 python3-venv procps openssl curl etcd-server iproute2 util-linux prometheus faketime systemd binutils chromium chromium-driver python3-selenium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: deps build run test deb clean rehearsal
# Other people's Marathon clients and validators for the compatibility tests (PyPI, pinned).
COMPAT_VENV := .build/compat-venv

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
		case "$$missing" in *prometheus*) \
			echo "prometheus is installed for promtool only: its services are stopped and disabled"; \
			$(SUDO) systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true;; \
		esac; \
	fi

build: deps
	$(SWIFT) build

# The release build: the LB's speed is what a newcomer first sees (tests use the debug build).
run: deps
	$(SWIFT) build -c release --product pacer
	.build/release/pacer up

# Deterministic hashing: a failing simulation seed replays exactly (see Tests/PacerSimulationTests).
$(COMPAT_VENV)/.installed: Tests/compat/requirements.txt
	python3 -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install -q -r Tests/compat/requirements.txt
	touch $@

# The formatter's configuration is .swift-format; `swift format -i -r Sources Tests Package.swift` applies it.
test: deps $(COMPAT_VENV)/.installed
	$(SWIFT) format lint --strict -r Sources Tests Package.swift
	promtool check rules ops/prometheus/alerts.yml
	cd ops/prometheus && promtool test rules alerts.test.yml
	$(MAKE) rehearsal
	$(SWIFT) build --build-tests --explicit-target-dependency-import-check error
	SWIFT_DETERMINISTIC_HASHING=1 $(SWIFT) test --skip-build --disable-swift-testing

# The rehearsal build of the next release (store schema one higher; see Package.swift), beside the
# debug binary, for RollingUpgradeTests. Only the apps module differs, so the two builds share the rest.
rehearsal:
	PACER_SCHEMA_REHEARSAL=1 $(SWIFT) build --product pacer
	cp .build/debug/pacer .build/debug/pacer-schema-rehearsal

# A Debian package of the release binary (Swift runtime linked in), systemd units and example configuration.
deb: deps
	$(SWIFT) build -c release --static-swift-stdlib --product pacer
	ops/debian/build-deb.sh .build/release/pacer .build/deb

clean:
	rm -rf .build
