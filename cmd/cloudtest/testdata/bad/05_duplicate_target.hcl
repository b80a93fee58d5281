target "cloud" { url = "http://127.0.0.1:8080" }
target "cloud" { url = "http://127.0.0.1:9090" }
