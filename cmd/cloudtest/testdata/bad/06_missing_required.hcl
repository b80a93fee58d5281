target "legacy" {
  process {
    dir = "."
    url = "http://127.0.0.1:{port}"
  }
}
