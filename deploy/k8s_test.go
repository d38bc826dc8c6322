package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// scaledObject mirrors KEDA's keda.sh/v1alpha1 ScaledObject (spec only; status is the
// operator's), field for field, so strict decoding refuses a field KEDA does not have. The KEDA
// module itself is not imported: it brings controller-runtime and every scaler's SDK.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		ScaleTargetRef *struct {
			Name                   string `json:"name"`
			APIVersion             string `json:"apiVersion,omitempty"`
			Kind                   string `json:"kind,omitempty"`
			EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
		} `json:"scaleTargetRef"`
		PollingInterval       *int32 `json:"pollingInterval,omitempty"`
		InitialCooldownPeriod *int32 `json:"initialCooldownPeriod,omitempty"`
		CooldownPeriod        *int32 `json:"cooldownPeriod,omitempty"`
		IdleReplicaCount      *int32 `json:"idleReplicaCount,omitempty"`
		MinReplicaCount       *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount       *int32 `json:"maxReplicaCount,omitempty"`
		Advanced              *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
				Name     string                                         `json:"name,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
			RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
			ScalingModifiers              struct {
				Formula          string                         `json:"formula,omitempty"`
				Target           string                         `json:"target,omitempty"`
				ActivationTarget string                         `json:"activationTarget,omitempty"`
				MetricType       autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
			} `json:"scalingModifiers,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			UseCachedMetrics  bool              `json:"useCachedMetrics,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
			MetricType autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
		} `json:"triggers"`
		Fallback *struct {
			FailureThreshold int32  `json:"failureThreshold"`
			Replicas         int32  `json:"replicas"`
			Behavior         string `json:"behavior,omitempty"`
		} `json:"fallback,omitempty"`
	} `json:"spec"`
}

// triggerKeys are the metadata keys of the KEDA scalers Strike uses (KEDA's kafka and
// prometheus scaler documentation); a misspelt key is otherwise ignored by KEDA.
var triggerKeys = map[string][]string{
	"kafka": {"bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
		"offsetResetPolicy", "allowIdleConsumers", "scaleToZeroOnInvalidOffset", "excludePersistentLag",
		"limitToPartitionsWithLag", "partitionLimitation", "version", "sasl", "tls"},
	"prometheus": {"serverAddress", "query", "threshold", "activationThreshold", "namespace",
		"customHeaders", "ignoreNullValues", "queryParameters", "unsafeSsl", "authModes"},
}

// kinds maps apiVersion/kind to a fresh value of its Go type; anything else is refused.
var kinds = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"keda.sh/v1alpha1/ScaledObject":          func() any { return &scaledObject{} },
	"keda.sh/v1alpha1/TriggerAuthentication": func() any { return &triggerAuthentication{} },
}

// decodeStrict decodes one object's YAML into its API type, refusing unknown fields and kinds.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("kind %s/%s is not one Strike deploys (a Secret must never be inlined)", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// render builds a kustomization from deploy/k8s, copied into an in-memory file system.
func render(t *testing.T, dir string) [][]byte {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir("k8s", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+filepath.ToSlash(path), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k8s/"+dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var docs [][]byte
	for _, r := range rm.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	return docs
}

// allowedSecrets are the Secrets Strike's pods reference, created outside deploy/k8s.
var allowedSecrets = map[string][]string{
	// One login role per component (docs/runbooks/database-roles.md); the migrate Job's is the owner.
	"strike-database-gateway":       {"DATABASE_URL"},
	"strike-database-callbacks":     {"DATABASE_URL"},
	"strike-database-eco-processor": {"DATABASE_URL"},
	"strike-database-dialer":        {"DATABASE_URL"},
	"strike-database-sink":          {"DATABASE_URL"},
	"strike-database-render-poller": {"DATABASE_URL"},
	"strike-database-migrate":       {"DATABASE_URL"},
	// One Kafka principal per component (strike kafka access --components); the migrate Job's
	// topics step is the admin, the lag exporter its own describe-only principal.
	"strike-kafka-gateway":       {"STRIKE_KAFKA_PASSWORD"},
	"strike-kafka-eco-processor": {"STRIKE_KAFKA_PASSWORD"},
	"strike-kafka-dialer":        {"STRIKE_KAFKA_PASSWORD"},
	"strike-kafka-sink":          {"STRIKE_KAFKA_PASSWORD"},
	"strike-kafka-render-poller": {"STRIKE_KAFKA_PASSWORD"},
	"strike-kafka-egress":        {"STRIKE_KAFKA_PASSWORD"},
	// The lag exporter's also authenticates KEDA's kafka triggers (TriggerAuthentication).
	"strike-kafka-lag-exporter": {"STRIKE_KAFKA_PASSWORD", "STRIKE_KAFKA_USERNAME"},
	"strike-kafka-admin":        {"STRIKE_KAFKA_PASSWORD"},
	"strike-twilio":             {"STRIKE_TWILIO_ACCOUNT_SID", "STRIKE_TWILIO_AUTH_TOKEN"},
	"strike-secret-keys":        {"STRIKE_SECRET_KEYS"},
}

var secretish = regexp.MustCompile(`TOKEN|SECRET|PASSWORD|DATABASE_URL|_KEY`)

func checkPod(t *testing.T, where string, spec corev1.PodSpec, serving bool) {
	t.Helper()
	if len(spec.Containers) == 0 {
		t.Errorf("%s: no containers", where)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: needs CPU and memory requests and a memory limit", where, c.Name)
		}
		if !strings.HasPrefix(c.Image, "ghcr.io/osprey-strike/strike:") {
			t.Errorf("%s/%s: image %q", where, c.Name, c.Image)
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				ref := e.ValueFrom.SecretKeyRef
				if !slices.Contains(allowedSecrets[ref.Name], ref.Key) {
					t.Errorf("%s/%s: env %s references secret %s key %s, not a known Strike secret", where, c.Name, e.Name, ref.Name, ref.Key)
				}
			} else if secretish.MatchString(e.Name) {
				t.Errorf("%s/%s: env %s must come from a Secret", where, c.Name, e.Name)
			}
		}
		if !serving {
			continue
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("%s/%s: liveness probe must GET /healthz", where, c.Name)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s/%s: readiness probe must GET /readyz", where, c.Name)
		}
	}
}

// Every overlay renders with kustomize, every object decodes strictly into its Kubernetes (or
// KEDA) type, and the pieces fit: transactional components are StatefulSets with their pod name
// as transactional id, every consumer has a PodDisruptionBudget and a ScaledObject bounded by the
// partition count, and secrets are only referenced.
func TestKubernetesOverlaysRenderAndDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, overlay := range []string{"base", "overlays/staging", "overlays/production"} {
		t.Run(overlay, func(t *testing.T) {
			t.Parallel()
			objs := map[string]any{}
			var pdbs []*policyv1.PodDisruptionBudget
			var scaled []*scaledObject
			partitions := -1
			brokers := ""
			for _, doc := range render(t, overlay) {
				obj, err := decodeStrict(doc)
				if err != nil {
					t.Errorf("%v\n%s", err, doc)
					continue
				}
				m := obj.(metav1.ObjectMetaAccessor).GetObjectMeta()
				if overlay != "base" && m.GetNamespace() == "" {
					t.Errorf("%s has no namespace", m.GetName())
				}
				key := fmt.Sprintf("%T/%s", obj, m.GetName())
				objs[key] = obj
				switch o := obj.(type) {
				case *policyv1.PodDisruptionBudget:
					pdbs = append(pdbs, o)
				case *scaledObject:
					scaled = append(scaled, o)
				case *corev1.ConfigMap:
					brokers = o.Data["STRIKE_KAFKA_BROKERS"]
				case *batchv1.Job:
					checkPod(t, "job/"+o.Name, o.Spec.Template.Spec, false)
					for _, c := range o.Spec.Template.Spec.Containers {
						if i := slices.Index(c.Args, "--partitions"); len(c.Args) > 0 && c.Args[0] == "topics" && i >= 0 && i+1 < len(c.Args) {
							partitions, _ = strconv.Atoi(c.Args[i+1])
						}
					}
				case *appsv1.Deployment:
					checkPod(t, "deployment/"+o.Name, o.Spec.Template.Spec, true)
				case *appsv1.StatefulSet:
					checkPod(t, "statefulset/"+o.Name, o.Spec.Template.Spec, true)
					// The pod name makes the id stable and unique (TestEveryKafkaPrincipalIsDeployedAndScaledSecurely
					// checks it falls under the component's ACL prefix).
					if id := podEnv(o.Spec.Template.Spec.Containers[0], o.Name+"-0")["STRIKE_TRANSACTIONAL_ID"]; !strings.Contains(id, o.Name+"-0") {
						t.Errorf("statefulset/%s: STRIKE_TRANSACTIONAL_ID %q must contain the pod name", o.Name, id)
					}
				}
			}
			if partitions <= 0 {
				t.Fatal("no topics Job with --partitions")
			}
			for _, name := range []string{"eco-processor", "dialer", "egress"} {
				if objs["*v1.StatefulSet/"+name] == nil {
					t.Errorf("%s must be a StatefulSet", name)
				}
			}
			for _, name := range []string{"sink", "gateway", "render-poller", "lag-exporter"} {
				if objs["*v1.Deployment/"+name] == nil {
					t.Errorf("%s must be a Deployment", name)
				}
			}
			if objs["*v1.Job/strike-migrate"] == nil {
				t.Error("no migration Job")
			}
			// A PodDisruptionBudget selecting each component's pods.
			for _, name := range []string{"eco-processor", "dialer", "sink", "gateway", "render-poller", "egress"} {
				podLabels := labels.Set{"app.kubernetes.io/name": name}
				var found bool
				for _, p := range pdbs {
					sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
					found = found || (err == nil && sel.Matches(podLabels))
				}
				if !found {
					t.Errorf("%s has no PodDisruptionBudget", name)
				}
			}
			// A ScaledObject per consumer group, on an existing workload, at most one replica per partition.
			groups := map[string]bool{}
			for _, so := range scaled {
				ref := so.Spec.ScaleTargetRef
				if ref == nil || objs["*v1."+ref.Kind+"/"+ref.Name] == nil || ref.APIVersion != "apps/v1" {
					t.Errorf("scaledobject/%s: target %+v does not exist", so.Name, ref)
				}
				if maxN := so.Spec.MaxReplicaCount; maxN == nil || int(*maxN) != partitions {
					t.Errorf("scaledobject/%s: maxReplicaCount %s, want the partition count %d", so.Name, fmtInt(maxN), partitions)
				}
				if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
					t.Errorf("scaledobject/%s: minReplicaCount must be at least 1 (no scale to zero)", so.Name)
				}
				for _, tr := range so.Spec.Triggers {
					allowed, ok := triggerKeys[tr.Type]
					if !ok {
						t.Errorf("scaledobject/%s: trigger type %q", so.Name, tr.Type)
					}
					for k := range tr.Metadata {
						if !slices.Contains(allowed, k) {
							t.Errorf("scaledobject/%s: %s trigger has no metadata key %q", so.Name, tr.Type, k)
						}
					}
					switch tr.Type {
					case "kafka":
						groups[tr.Metadata["consumerGroup"]] = true
						if tr.Metadata["bootstrapServers"] != brokers {
							t.Errorf("scaledobject/%s: bootstrapServers %q, but the components use %q", so.Name, tr.Metadata["bootstrapServers"], brokers)
						}
					case "prometheus":
						if m := regexp.MustCompile(`group="([^"]+)"`).FindStringSubmatch(tr.Metadata["query"]); m != nil {
							groups[m[1]] = true
						}
						if u, err := checkExpr(tr.Metadata["query"], knownMetrics(t)); err != nil || len(u) > 0 {
							t.Errorf("scaledobject/%s: query: unknown %v, err %v", so.Name, u, err)
						}
					}
				}
			}
			for _, g := range []string{"strike-eco-processor", "strike-dialer", "strike-sink", "strike-render-dispatch", "strike-egress"} {
				if !groups[g] {
					t.Errorf("no ScaledObject scales on group %s", g)
				}
			}
		})
	}
}

// The strict decoding refuses what it must: an unknown field, a misplaced field, an inline
// Secret, a kind nobody deploys.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"unknown Deployment field":           "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n",
		"ScaledObject misspelt":              "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec: {maxReplicas: 3, triggers: []}\n",
		"TriggerAuthentication misspelt":     "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: x}\nspec: {secretTargetRefs: []}\n",
		"TriggerAuthentication from a vault": "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: x}\nspec: {hashiCorpVault: {address: x}}\n",
		"inline Secret":                      "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n",
		"wrong apiVersion":                   "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: x}\n",
	} {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 2}\n")); err != nil {
		t.Errorf("a valid Deployment: %v", err)
	}
}

func fmtInt(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}
