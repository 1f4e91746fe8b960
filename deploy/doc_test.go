// Package deploy_test checks the deployment files under deploy/: the
// systemd units with systemd-analyze, the Kubernetes manifests against the
// Kubernetes API types, and the Prometheus rules and Grafana dashboard with
// promtool and a real Prometheus. It holds tests only, so the Kubernetes
// API packages it imports never reach the mutt binary.
package deploy_test
