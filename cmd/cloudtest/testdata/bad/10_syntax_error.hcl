target "cloud" {
  url = "http://127.0.0.1:8080"

functional "login" {
  target = target.cloud
}
