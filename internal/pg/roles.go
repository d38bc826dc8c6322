package pg

import (
	"os"
	"strings"
)

// The database roles of Strike's components (migrations/00010_component_roles.sql). Each is
// NOLOGIN and holds only the grants its component needs; an operator grants it to a login role
// made for that component (docs/runbooks/database-roles.md). None owns a table or bypasses
// row-level security.
const (
	// RoleMigrate is the owner's role: `strike migrate`, `strike sink rebuild` and the operator
	// tools (`strike admin ...`) run as a member of it.
	RoleMigrate      = "strike_migrate"
	RoleGateway      = "strike_gateway"
	RoleCallbacks    = "strike_callbacks"
	RoleECOProcessor = "strike_eco_processor"
	RoleDialer       = "strike_dialer"
	RoleSink         = "strike_sink"
	RoleRenderPoller = "strike_render_poller"
)

// Component is a Strike component that connects to PostgreSQL with its own role.
type Component struct {
	Name string // as in `strike run <name>` and logs
	Role string // the NOLOGIN role its login role is granted
}

// Components lists every component with its own database role, in start order.
var Components = []Component{
	{"eco-processor", RoleECOProcessor},
	{"render-poller", RoleRenderPoller},
	{"sink", RoleSink},
	{"gateway", RoleGateway},
	{"callbacks", RoleCallbacks},
	{"dialer", RoleDialer},
}

// URLEnv is the environment variable that holds c's database URL, e.g.
// STRIKE_GATEWAY_DATABASE_URL; when it is unset the component uses DATABASE_URL.
func (c Component) URLEnv() string {
	return "STRIKE_" + strings.ToUpper(strings.ReplaceAll(c.Name, "-", "_")) + "_DATABASE_URL"
}

// ComponentURL is the database URL component c connects with: its own variable (URLEnv) if set,
// else fallback (DATABASE_URL or --database-url).
func ComponentURL(c Component, fallback string) string {
	if u := os.Getenv(c.URLEnv()); u != "" {
		return u
	}
	return fallback
}

// ComponentNamed returns the component called name.
func ComponentNamed(name string) (Component, bool) {
	for _, c := range Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}
