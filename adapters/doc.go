// Package adapters turns a Druid task into the batch/v1 Job that runs its
// peon, the way Druid's Kubernetes runner builds it (overlordSingleContainer,
// overlordMultiContainer, customTemplateAdapter), and selects pod templates.
package adapters
