package deploy_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/osprey-strike/strike/internal/kafkaacl"
)

// triggerAuthentication mirrors KEDA's keda.sh/v1alpha1 TriggerAuthentication in the ways Strike
// may fill it (a Secret, a ConfigMap, the target container's environment), field for field, so
// strict decoding refuses a misspelt one. The vault and cloud secret-store providers are not
// mirrored: a TriggerAuthentication using them is refused until Strike needs one.
// https://keda.sh/docs/2.15/concepts/authentication/
type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef,omitempty"`
		ConfigMapTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"configMapTargetRef,omitempty"`
		Env []struct {
			Parameter     string `json:"parameter"`
			Name          string `json:"name"`
			ContainerName string `json:"containerName,omitempty"`
		} `json:"env,omitempty"`
	} `json:"spec"`
}

// kafkaAuthParams are the authentication parameters of KEDA's kafka scaler
// (https://keda.sh/docs/2.15/scalers/apache-kafka/, "Authentication Parameters").
var kafkaAuthParams = []string{"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword", "unsafeSsl"}

// kafkaSASL is KEDA's name of each SASL mechanism a Strike client may use.
var kafkaSASL = map[string]string{"SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}

// workload is a rendered Deployment or StatefulSet.
type workload struct {
	kind, name string
	spec       corev1.PodSpec
}

// podEnv resolves container c's environment as the kubelet would for pod podName: literal values,
// $(VAR) references to earlier variables and the pod name; a Secret's value reads as
// "secret:<name>/<key>".
func podEnv(c corev1.Container, podName string) map[string]string {
	vals := map[string]string{}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			vals[e.Name] = podName
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			vals[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		default:
			vals[e.Name] = ref.ReplaceAllStringFunc(e.Value, func(m string) string {
				if v, ok := vals[ref.FindStringSubmatch(m)[1]]; ok {
					return v
				}
				return m
			})
		}
	}
	return vals
}

// Every Kafka principal Strike has (kafkaacl.Components: each `strike run` component and the lag
// exporter) runs in every overlay as that principal, with its own Secret; the transactional ones
// as StatefulSets whose transactional ids fall under their ACL's prefix; every component's
// consumer group has a ScaledObject, and every kafka trigger authenticates the way the
// components do (TLS, SASL SCRAM) through a TriggerAuthentication in the render.
func TestEveryKafkaPrincipalIsDeployedAndScaledSecurely(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("k8s/README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Every Secret a pod or KEDA may reference is documented by name for the operator.
	for name := range allowedSecrets {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("k8s/README.md does not document the Secret %s", name)
		}
	}
	for _, overlay := range []string{"base", "overlays/staging", "overlays/production"} {
		t.Run(overlay, func(t *testing.T) {
			t.Parallel()
			var (
				loads  []workload
				pdbs   []*policyv1.PodDisruptionBudget
				scaled []*scaledObject
				config map[string]string
			)
			auths := map[string]*triggerAuthentication{}
			for _, doc := range render(t, overlay) {
				obj, err := decodeStrict(doc)
				if err != nil {
					t.Fatalf("%v\n%s", err, doc)
				}
				switch o := obj.(type) {
				case *appsv1.Deployment:
					loads = append(loads, workload{"Deployment", o.Name, o.Spec.Template.Spec})
				case *appsv1.StatefulSet:
					loads = append(loads, workload{"StatefulSet", o.Name, o.Spec.Template.Spec})
				case *policyv1.PodDisruptionBudget:
					pdbs = append(pdbs, o)
				case *scaledObject:
					scaled = append(scaled, o)
				case *triggerAuthentication:
					auths[o.Name] = o
				case *corev1.ConfigMap:
					config = o.Data
				}
			}
			groups := map[string]bool{} // the consumer groups the components read in
			for _, component := range kafkaacl.Components {
				principal := "strike-" + component
				gs, err := kafkaacl.ForComponent(component, principal)
				if err != nil {
					t.Fatal(err)
				}
				var txnPrefix string
				for _, g := range gs {
					switch {
					case g.Resource == kmsg.ACLResourceTypeTransactionalId:
						txnPrefix = g.Name
					case g.Resource == kmsg.ACLResourceTypeGroup && g.Op == kadm.OpRead:
						groups[g.Name] = true
					}
				}
				var found []workload
				for _, w := range loads {
					for _, c := range w.spec.Containers {
						if env := podEnv(c, w.name+"-0"); env["STRIKE_KAFKA_USERNAME"] == principal {
							found = append(found, w)
						}
					}
				}
				if len(found) != 1 {
					t.Errorf("%s: %d workloads connect as %s, want 1", component, len(found), principal)
					continue
				}
				w := found[0]
				c := w.spec.Containers[0]
				env := podEnv(c, w.name+"-0")
				if want := "secret:strike-kafka-" + component + "/STRIKE_KAFKA_PASSWORD"; env["STRIKE_KAFKA_PASSWORD"] != want {
					t.Errorf("%s: STRIKE_KAFKA_PASSWORD from %q, want %s", w.name, env["STRIKE_KAFKA_PASSWORD"], want)
				}
				if component != "lag-exporter" && !slices.Equal(c.Args, []string{"run", component}) {
					t.Errorf("%s: args %q, want [run %s]", w.name, c.Args, component)
				}
				if txnPrefix != "" {
					if w.kind != "StatefulSet" {
						t.Errorf("%s uses Kafka transactions: a %s, want a StatefulSet (a stable transactional id per replica)", w.name, w.kind)
					}
					if id := env["STRIKE_TRANSACTIONAL_ID"]; !strings.HasPrefix(id, txnPrefix) || !strings.Contains(id, w.name+"-0") {
						t.Errorf("%s: transactional id %q of pod %s-0: want the pod name under the ACL prefix %q", w.name, id, w.name, txnPrefix)
					}
				}
				if component == "lag-exporter" {
					continue // one replica that only reads offsets: a drain may take it
				}
				var pdb bool
				for _, p := range pdbs {
					sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
					pdb = pdb || (err == nil && sel.Matches(labels.Set{"app.kubernetes.io/name": w.name}))
				}
				if !pdb {
					t.Errorf("%s has no PodDisruptionBudget", w.name)
				}
			}
			// Each group a component reads in is scaled on its lag.
			scaledGroups := map[string]bool{}
			for _, so := range scaled {
				for _, tr := range so.Spec.Triggers {
					switch tr.Type {
					case "kafka":
						scaledGroups[tr.Metadata["consumerGroup"]] = true
						checkKafkaTriggerAuth(t, so.Name, tr.Metadata, tr.AuthenticationRef, auths, config)
					case "prometheus":
						if m := regexp.MustCompile(`group="([^"]+)"`).FindStringSubmatch(tr.Metadata["query"]); m != nil {
							scaledGroups[m[1]] = true
						}
					}
				}
			}
			for g := range groups {
				if !scaledGroups[g] {
					t.Errorf("no ScaledObject scales on the consumer group %s", g)
				}
			}
		})
	}
}

// checkKafkaTriggerAuth: a kafka trigger reaches the cluster the components reach, over TLS when
// they use it and with their SASL mechanism, as a principal whose credentials come from a
// documented Secret through a TriggerAuthentication in the render.
func checkKafkaTriggerAuth(t *testing.T, so string, meta map[string]string, ref *struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}, auths map[string]*triggerAuthentication, config map[string]string) {
	t.Helper()
	if ref == nil {
		t.Errorf("scaledobject/%s: kafka trigger without authenticationRef: KEDA cannot read lag on a cluster that authenticates", so)
		return
	}
	if ref.Kind != "" && ref.Kind != "TriggerAuthentication" {
		t.Errorf("scaledobject/%s: authenticationRef kind %q", so, ref.Kind)
	}
	ta := auths[ref.Name]
	if ta == nil {
		t.Errorf("scaledobject/%s: authenticationRef %q is no TriggerAuthentication in the render", so, ref.Name)
		return
	}
	params := map[string]string{}
	for _, s := range ta.Spec.SecretTargetRef {
		if !slices.Contains(allowedSecrets[s.Name], s.Key) {
			t.Errorf("triggerauthentication/%s: parameter %s from secret %s key %s, not a known Strike secret", ta.Name, s.Parameter, s.Name, s.Key)
		}
		params[s.Parameter] = fmt.Sprintf("secret:%s/%s", s.Name, s.Key)
	}
	if len(ta.Spec.ConfigMapTargetRef) > 0 || len(ta.Spec.Env) > 0 {
		t.Errorf("triggerauthentication/%s: Strike's Kafka credentials come from Secrets only", ta.Name)
	}
	for p := range params {
		if !slices.Contains(kafkaAuthParams, p) {
			t.Errorf("triggerauthentication/%s: the kafka scaler has no parameter %q", ta.Name, p)
		}
	}
	// sasl and tls: in the trigger or in the TriggerAuthentication, not both (KEDA refuses that).
	for _, p := range []string{"sasl", "tls"} {
		if _, ok := params[p]; ok && meta[p] != "" {
			t.Errorf("scaledobject/%s: %s set in both the trigger and %s", so, p, ta.Name)
		}
	}
	if want := kafkaSASL[config["STRIKE_KAFKA_SASL_MECHANISM"]]; want == "" || meta["sasl"] != want {
		t.Errorf("scaledobject/%s: sasl %q, but the components use %q", so, meta["sasl"], config["STRIKE_KAFKA_SASL_MECHANISM"])
	}
	if tls := config["STRIKE_KAFKA_TLS"] == "true"; tls != (meta["tls"] == "enable") {
		t.Errorf("scaledobject/%s: tls %q, but STRIKE_KAFKA_TLS is %q", so, meta["tls"], config["STRIKE_KAFKA_TLS"])
	}
	// The lag exporter's describe-only principal: KEDA needs no more (k8s/README.md).
	if params["username"] != "secret:strike-kafka-lag-exporter/STRIKE_KAFKA_USERNAME" || params["password"] != "secret:strike-kafka-lag-exporter/STRIKE_KAFKA_PASSWORD" {
		t.Errorf("triggerauthentication/%s: username %q, password %q: want the lag exporter's principal", ta.Name, params["username"], params["password"])
	}
}
