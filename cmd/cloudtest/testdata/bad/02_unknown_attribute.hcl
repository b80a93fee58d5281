target "cloud" {
  uri = "http://127.0.0.1:8080"
}
