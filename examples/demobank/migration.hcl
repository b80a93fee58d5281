# The core ledger's data moved from the legacy core to the cloud database:
# the same accounts, ledger entries and branches, nothing lost, nothing
# duplicated, nothing silently converted. Here both sides are the nightly
# exports (one CSV file a table, sorted by key, \N for NULL), so the example
# needs no database; to compare live databases, set driver = "postgres" or
# "mysql" and dsn = var.legacy_dsn (a sensitive variable). See
# docs/migration.md.
migration "core-ledger-data" {
  component   = "core-ledger"
  description = "The legacy core's export against the cloud database's, table by table and row by row."
  tags        = ["migration"]

  source {
    driver = "csv"
    dsn    = "migration/legacy"
    types = {
      "accounts.id"             = "integer"
      "accounts.owner"          = "char(12)"
      "accounts.balance"        = "decimal(12,2)"
      "accounts.opened_on"      = "date"
      "accounts.active"         = "boolean"
      "ledger_entries.id"       = "integer"
      "ledger_entries.account"  = "integer"
      "ledger_entries.amount"   = "decimal(12,2)"
      "ledger_entries.fx_rate"  = "double"
      "ledger_entries.posted_at" = "timestamp(3)"
    }
  }
  target {
    driver = "csv"
    dsn    = "migration/cloud"
    types = {
      "accounts.id"              = "integer"
      "accounts.customer"        = "varchar(40)"
      "accounts.balance"         = "decimal(12,2)"
      "accounts.opened_on"       = "date"
      "accounts.active"          = "boolean"
      "ledger_entries.id"        = "integer"
      "ledger_entries.account"   = "integer"
      "ledger_entries.amount"    = "decimal(12,2)"
      "ledger_entries.fx_rate"   = "double"
      "ledger_entries.posted_at" = "timestamp(3)"
    }
  }
  max_diffs = 20

  table "accounts" {
    key    = ["id"]
    # The legacy core kept owner names in char(12), padded with spaces
    # (not data: the comparison drops them); the cloud calls them customer.
    rename = { owner = "customer" }
  }
  table "ledger_entries" {
    key       = ["id"]
    # The cloud database computes exchange rates in double precision.
    tolerance = { fx_rate = 0.000001 }
  }
  table "branches" {
    key = ["code"]
  }
}
