# Reliability: faults in Chaos Mesh's vocabulary against demo banks that
# cloudtest supervises as real processes, with RTO, RPO and availability
# measured and compared with the components' disaster-recovery tiers
# (core-ledger is critical: RTO ≤ 2 min, RPO 0; mobile-channel is general:
# RTO ≤ 4 h, RPO ≤ 1 h). `cloudtest plan --emit-chaos DIR` writes the same
# faults as Chaos Mesh YAML for a Kubernetes deployment.

# The ledger's primary, durable: every write is on disk before it is
# acknowledged. `{cloudtest}` runs this very cloudtest as `cloudtest demo`;
# restart = "always" plays Kubernetes restarting a killed pod.
target "ledger-primary" {
  process {
    command = ["{cloudtest}", "demo", "--listen", "127.0.0.1:{port}", "--data", "{workdir}"]
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
    restart = "always"
  }
}

# The mobile channel's bank acknowledges writes before they are on disk and
# flushes them every ten minutes: a kill loses every write it acknowledged
# since the last flush (here, all of them before the kill).
target "channel-cache" {
  process {
    command = ["{cloudtest}", "demo", "--listen", "127.0.0.1:{port}", "--data", "{workdir}", "--write-behind", "10m"]
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
    restart = "always"
  }
}

reliability "ledger-primary-loss" {
  description = "Kill the ledger's primary mid-traffic: it must be back within the tier's RTO with no acknowledged write lost."
  component   = "core-ledger"
  target      = target.ledger-primary
  duration    = "6s"

  setup {
    step "login" {
      use  = step_template.login
      with = { user = "alice", password = var.password }
    }
  }

  steady_state {
    step "balance" {
      use  = step_template.account
      with = { account = 1 }
    }
  }

  probe {
    every = "100ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }

  # One record every 50 ms, each read back after recovery.
  ledger {
    every = "50ms"
    write {
      http {
        method  = "POST"
        path    = "/api/ledger"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { ref = "drill", seq = ledger.seq }
      }
      expect { status = 201 }
      capture { id = response.json.id }
    }
    read {
      http {
        path    = "/api/ledger/${ledger.id}"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
      capture { position = response.json.seq }
    }
  }

  fault "primary-killed" {
    action = "pod-kill"
    after  = "2s"
  }

  abort_when {
    error_ratio = 0.9
    window      = "3s"
  }
}

reliability "channel-cache-loss" {
  description = "Kill the write-behind bank: writes acknowledged but not yet flushed are lost; the tier (general) allows an RPO of one hour, and the report lists every lost write."
  component   = "mobile-channel"
  target      = target.channel-cache
  duration    = "6s"

  setup {
    step "login" {
      use  = step_template.login
      with = { user = "alice", password = var.password }
    }
  }

  probe {
    http { path = "/healthz" }
    expect { status = 200 }
  }

  ledger {
    every = "50ms"
    write {
      http {
        method  = "POST"
        path    = "/api/ledger"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { ref = "drill", seq = ledger.seq }
      }
      expect { status = 201 }
      capture { id = response.json.id }
    }
    read {
      http {
        path    = "/api/ledger/${ledger.id}"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
    }
  }

  fault "cache-killed" {
    action = "pod-kill"
    after  = "2500ms"
  }
}

reliability "channel-network" {
  description = "Between the customer and the mobile channel: 200 ms of added latency, then a one-second partition, through a proxy cloudtest puts in front of the bank."
  component   = "mobile-channel"
  target      = target.demo
  duration    = "6s"

  probe {
    every   = "100ms"
    timeout = "1s"
    http { path = "/healthz" }
    expect { status = 200 }
  }

  fault "slow-link" {
    action   = "delay"
    latency  = "200ms"
    jitter   = "20ms"
    after    = "1s"
    duration = "2s"
  }

  fault "cut-link" {
    action   = "partition"
    after    = "3500ms"
    duration = "1s"
  }

  objectives {
    rto          = "5s"
    availability = 0.5
  }
}

# The ledger's standby in a container: the demo bank as a FROM-scratch image
# of a static cloudtest (built once, kept by digest), on a network of its own,
# published on a fixed loopback port that stays valid across restarts.
target "ledger-standby" {
  container {
    embedded = "demobank"
    restart  = "always"
  }
}

reliability "ledger-standby-container" {
  description = "Freeze the standby's container, then kill it: Docker's engine carries out Chaos Mesh's pod-failure and pod-kill."
  component   = "core-ledger"
  target      = target.ledger-standby
  duration    = "8s"

  setup {
    step "login" {
      use  = step_template.login
      with = { user = "alice", password = var.password }
    }
  }

  probe {
    http { path = "/healthz" }
    expect { status = 200 }
  }

  ledger {
    every = "100ms"
    write {
      http {
        method  = "POST"
        path    = "/api/ledger"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { ref = "standby", seq = ledger.seq }
      }
      expect { status = 201 }
      capture { id = response.json.id }
    }
    read {
      http {
        path    = "/api/ledger/${ledger.id}"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
    }
  }

  fault "standby-frozen" {
    action   = "pod-failure"
    engine   = "docker"
    after    = "1s"
    duration = "1500ms"
  }

  fault "standby-killed" {
    action = "pod-kill"
    engine = "docker"
    after  = "4s"
  }
}
