package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/task"
)

// overlordAdapter is Druid's K8sTaskAdapter: the peon Job copies the source
// pod's spec (image, volumes, env, service account, ...) and replaces its main
// container's command with the peon. Single keeps only the main container;
// multi keeps the sidecars and stops them with kubexit when the peon ends.
type overlordAdapter struct {
	cfg   Config
	deps  Deps
	multi bool
}

func (a *overlordAdapter) Type() string {
	if a.multi {
		return TypeMultiContainer
	}
	return TypeSingleContainer
}

func (a *overlordAdapter) FromTask(ctx context.Context, t *task.Task) (*batchv1.Job, error) {
	return fromRendered(ctx, a, a.deps.Payloads, t)
}

func (a *overlordAdapter) Render(t *task.Task) (*Rendered, error) {
	if t == nil {
		return nil, errors.New("task is nil")
	}
	c := a.cfg
	javaOpts, err := peonJavaOpts(c, t)
	if err != nil {
		return nil, err
	}
	memory, err := ContainerMemoryBytes(javaOpts)
	if err != nil {
		return nil, fmt.Errorf("task %s: size peon memory: %w", t.ID, err)
	}
	mode, err := BroadcastDatasourceLoadingMode(t)
	if err != nil {
		return nil, err
	}
	encoded, fits, err := encodedPayload(t)
	if err != nil {
		return nil, err
	}

	spec := a.deps.SourcePod.Spec.DeepCopy()
	if err := movePrimaryFirst(spec, c.PrimaryContainerName); err != nil {
		return nil, err
	}
	main := &spec.Containers[0]
	main.ReadinessProbe, main.LivenessProbe, main.StartupProbe = nil, nil, nil
	main.Ports = []corev1.ContainerPort{
		{Name: TLSPortName, ContainerPort: TLSPort, Protocol: corev1.ProtocolTCP},
		{Name: PortName, ContainerPort: Port, Protocol: corev1.ProtocolTCP},
	}

	env := removeEnv(main.Env, EnvTaskJSON)
	if len(c.PeonMonitors) > 0 {
		monitors, err := marshalJSONNoEscape(c.PeonMonitors)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", PropPeonMonitors, err)
		}
		env = setEnv(env, valueEnv(EnvMonitors, monitors))
	}
	vars := []corev1.EnvVar{
		valueEnv(EnvTaskDir, escapeVarRefs(taskDir(c, t.ID))),
		valueEnv(EnvJavaOpts, strings.Join(javaOpts, " ")),
		fieldRefEnv(EnvDruidHost, "status.podIP"),
		fieldRefEnv(EnvHostname, "metadata.name"),
		// Druid's overlord adapters pass these two (and the id) as peon.sh
		// arguments only; the env vars are what customTemplateAdapter sets,
		// added here so every taskgate peon looks alike.
		valueEnv(EnvTaskID, escapeVarRefs(t.ID)),
		valueEnv(EnvLoadBroadcastDatasourceMode, mode),
		valueEnv(EnvLoadBroadcastSegments, strconv.FormatBool(SupportsQueries(t))),
	}
	if fits {
		vars = append(vars, valueEnv(EnvTaskJSON, encoded))
	}
	main.Env = setEnv(env, vars...)
	main.Command = []string{"sh", "-c"}
	main.Args = []string{escapeVarRefs(shellJoin(peonArgs(c, t)))}
	main.Name = MainContainerName
	main.Resources = peonResources(main.Resources, memory, c.CPUCoreInMicro)
	// The task's own resources (k8sTaskResources) win over the sizing above.
	if main.Resources, err = applyTaskResources(main.Resources, t); err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}

	if !a.multi {
		spec.Containers = spec.Containers[:1]
	}
	id := newIdentity(c, t)
	id.annotations[AnnotationTLSEnabled] = strconv.FormatBool(c.EnableTLSPort)

	spec.NodeName = ""
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.Hostname = id.jobName
	spec.TerminationGracePeriodSeconds = nil
	if g := c.GraceTerminationPeriodSeconds; g != nil {
		v := *g
		spec.TerminationGracePeriodSeconds = &v
	}
	// Ephemeral containers (kubectl debug) may exist on a running source pod
	// but are forbidden in a pod template.
	spec.EphemeralContainers = nil
	if a.multi {
		if err := addKubexit(spec, c.KubexitImage); err != nil {
			return nil, err
		}
	}

	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        id.jobName,
			Labels:      id.labels,
			Annotations: id.annotations,
		},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      maps.Clone(id.labels),
					Annotations: maps.Clone(id.annotations),
				},
				Spec: *spec,
			},
		},
	}
	jobSpecLimits(c, &job.Spec)
	return &Rendered{Job: job, PayloadInDeepStorage: !fits, Payload: t.Raw()}, nil
}

// movePrimaryFirst is Druid's massageSpec: the named container becomes the
// first; with no name the first container is the primary.
func movePrimaryFirst(spec *corev1.PodSpec, name string) error {
	if len(spec.Containers) == 0 {
		return errors.New("source pod has no containers")
	}
	if strings.TrimSpace(name) == "" {
		return nil
	}
	names := make([]string, len(spec.Containers))
	for i, c := range spec.Containers {
		names[i] = c.Name
		if c.Name == name {
			primary := spec.Containers[i]
			rest := append(append([]corev1.Container{}, spec.Containers[:i]...), spec.Containers[i+1:]...)
			spec.Containers = append([]corev1.Container{primary}, rest...)
			return nil
		}
	}
	return fmt.Errorf("%s: no container named %q in the source pod (it has %s)", PropPrimaryContainerName, name, strings.Join(names, ", "))
}

// peonResources is Druid's getResourceRequirements: cpu and memory are set as
// both request and limit, keeping other resources the container asked for.
func peonResources(r corev1.ResourceRequirements, memoryBytes int64, cpuMillicores int) corev1.ResourceRequirements {
	if cpuMillicores <= 0 {
		cpuMillicores = defaultCPUMillicores
	}
	set := func(m corev1.ResourceList) corev1.ResourceList {
		if m == nil {
			m = corev1.ResourceList{}
		}
		m[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(cpuMillicores), resource.DecimalSI)
		m[corev1.ResourceMemory] = *resource.NewQuantity(memoryBytes, resource.DecimalSI)
		return m
	}
	out := *r.DeepCopy()
	out.Requests = set(out.Requests)
	out.Limits = set(out.Limits)
	return out
}

func removeEnv(env []corev1.EnvVar, name string) []corev1.EnvVar {
	out := env[:0:0]
	for _, e := range env {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// marshalJSONNoEscape writes compact JSON without Go's HTML escaping, as
// Jackson writes it.
func marshalJSONNoEscape(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

const (
	kubexitVolume    = "kubexit"
	graveyardVolume  = "graveyard"
	kubexitDir       = "/kubexit"
	graveyardDir     = "/graveyard"
	kubexitBinary    = "/kubexit/kubexit"
	kubexitContainer = "kubexit"
	// kubexitScript runs its arguments ($0 "$@") under kubexit.
	kubexitScript = kubexitBinary + ` "$0" "$@"`
)

// addKubexit is Druid's MultiContainerTaskAdapter sidecar support: an init
// container copies kubexit into a shared volume, every container runs under
// kubexit with a shared in-memory graveyard, and the sidecars die when the
// main container does (KUBEXIT_DEATH_DEPS), their exit code ignored. Each
// container's command becomes
//
//	/bin/sh -c '/kubexit/kubexit "$0" "$@" [|| true]' <original command and args...>
//
// where Druid writes /bin/sh -c '/kubexit/kubexit /bin/sh -c "<command and
// args joined by spaces>" [|| true]'; both run the same program under
// kubexit, this one without re-parsing the arguments.
func addKubexit(spec *corev1.PodSpec, image string) error {
	for _, v := range spec.Volumes {
		if v.Name == kubexitVolume || v.Name == graveyardVolume {
			return fmt.Errorf("%s: the source pod already has a volume named %q, which kubexit needs", TypeMultiContainer, v.Name)
		}
	}
	for _, c := range spec.Containers[1:] {
		if len(c.Command) == 0 {
			return fmt.Errorf("%s: sidecar container %q has no explicit command; kubexit must wrap each sidecar's command so the sidecar stops when the peon ends, and an image's ENTRYPOINT cannot be read from a pod spec: set command (and args) on %q in the source pod", TypeMultiContainer, c.Name, c.Name)
		}
	}
	spec.Volumes = append(spec.Volumes,
		corev1.Volume{Name: graveyardVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		corev1.Volume{Name: kubexitVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	)
	mainName := spec.Containers[0].Name
	for i := range spec.Containers {
		c := &spec.Containers[i]
		c.Env = append(c.Env, valueEnv("KUBEXIT_NAME", c.Name), valueEnv("KUBEXIT_GRAVEYARD", graveyardDir))
		c.VolumeMounts = append(c.VolumeMounts,
			corev1.VolumeMount{Name: graveyardVolume, MountPath: graveyardDir},
			corev1.VolumeMount{Name: kubexitVolume, MountPath: kubexitDir},
		)
		script := kubexitScript
		if i > 0 {
			c.Env = append(c.Env, valueEnv("KUBEXIT_DEATH_DEPS", mainName))
			// A sidecar killed by kubexit exits non-zero; that must not fail the pod.
			script += " || true"
		}
		// Druid joins the command into one double-quoted string, which breaks
		// arguments with spaces, quotes or $. Passing the original command as
		// the script's own arguments keeps every argument intact and keeps
		// Kubernetes' $(VAR) expansion of them working as before.
		argv := append(append([]string{}, c.Command...), c.Args...)
		c.Command = []string{"/bin/sh", "-c"}
		c.Args = append([]string{script}, argv...)
	}
	spec.InitContainers = append(spec.InitContainers, corev1.Container{
		Name:         kubexitContainer,
		Image:        image,
		Command:      []string{"cp", "/bin/kubexit", kubexitBinary},
		VolumeMounts: []corev1.VolumeMount{{Name: kubexitVolume, MountPath: kubexitDir}},
	})
	return nil
}
