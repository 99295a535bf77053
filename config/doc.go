// Package config loads taskgate's static configuration the way Druid does:
// flat runtime property names such as druid.indexer.runner.capacity, read
// from built-in defaults, Druid runtime.properties files, environment
// variables in the convention of Druid's Docker image
// (druid_indexer_runner_capacity; see EnvToProperty) and command-line
// key=value overrides, each source overriding the ones before it.
//
// The package knows every property of Druid's Kubernetes task runner
// extension, the hybrid k8sAndWorker runner, the HTTP worker runner and the
// few task and task-log properties taskgate needs (see Catalogue). Load
// resolves Druid's ${env:NAME} and ${file:UTF-8:/path} references in them,
// type-checks every one that is set, rejects the ones Druid's Kubernetes
// runner no longer supports (druid.indexer.runner.javaOpts), and warns about
// unknown druid.indexer.runner.* keys, so `gateway validate-config` catches
// mistakes before the gateway starts. Properties outside the catalogue (the
// rest of a Druid runtime.properties) are kept as written.
//
// Keys stay flat: a key that is a prefix of another
// (druid.indexer.runner.k8s.podTemplate and druid.indexer.runner.k8s.podTemplate.base)
// is a separate property, never a parent object.
//
// Consumers should not import this package: each defines the one-method
// interface it needs, interface{ Get(string) (string, bool) }, which
// *Properties satisfies, and parses values with its own Config.
package config
