package render

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// Client talks to one Render instance. It is safe for concurrent use; create one per instance
// and keep it, so its token is reused until it expires.
type Client struct {
	cfg      InstanceConfig
	base     string // base URL without a trailing slash
	tokenURL string
	http     *http.Client
	// tokenHTTP is http without redirects, for the token request.
	tokenHTTP *http.Client
	log       zerolog.Logger
	tok       tokenCache
}

var _ API = (*Client)(nil)

// String describes the client by its base URL. It exists because fmt does not call the
// redacting methods of secrets.Secret inside unexported fields: without it, printing a Client
// would print its secret and token.
func (c *Client) String() string { return "render.Client{" + c.base + "}" }

// Format makes every verb, %#v included, print String.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// New returns a client for the instance in cfg (zero fields take the documented defaults).
// httpClient carries the transport (nil: a new http.Client on the default transport); do not
// set its Timeout, as each attempt is bounded by cfg.Timeout. log gets retry warnings and
// token debug lines, never a credential; pass one with the OSP tenant fields already set.
func New(cfg InstanceConfig, httpClient *http.Client, log zerolog.Logger) (*Client, error) {
	u, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	base := strings.TrimRight(u.String(), "/")
	// The token request carries the client secret: it never follows a redirect (a 3xx is
	// an error), whatever httpClient does for the other calls.
	tokenHTTP := *httpClient
	tokenHTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		cfg:       cfg.withDefaults(),
		base:      base,
		tokenURL:  base + "/oauth/token",
		http:      httpClient,
		tokenHTTP: &tokenHTTP,
		log:       log.With().Str("render_base_url", base).Logger(),
	}, nil
}

// revision identifies one revision of one job.
type revision struct {
	id      string
	version int64
}

// ChangedJobs implements API. It follows next_page_token until a page carries next_cursor.
// A revision repeated across or within pages is dropped (counted in Duplicates); the same
// (id, version) with different content, a page token seen before, or more than MaxPages
// pages is ErrMalformed.
func (c *Client) ChangedJobs(ctx context.Context, cursor string) (Changes, error) {
	const op = "list jobs"
	var out Changes
	seen := map[revision]int{}
	tokens := map[string]bool{}
	pageToken := ""
	for {
		if out.Pages >= c.cfg.MaxPages {
			return Changes{}, c.fail(op, malformed("no end after %d pages", out.Pages))
		}
		q := url.Values{"page_size": {strconv.Itoa(c.cfg.PageSize)}}
		if pageToken != "" {
			q.Set("page_token", pageToken)
		} else if cursor != "" {
			q.Set("changed_since", cursor)
		}
		rep, err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/api/v1/jobs", query: q})
		if err != nil {
			return Changes{}, err
		}
		p, err := decodePage(rep.body)
		if err != nil {
			return Changes{}, c.fail(op, fmt.Errorf("page %d: %w", out.Pages+1, err))
		}
		out.Pages++
		for _, j := range p.Jobs {
			k := revision{j.ID, j.Version}
			if i, dup := seen[k]; dup {
				if !sameRevision(out.Jobs[i], j) {
					return Changes{}, c.fail(op, malformed("job %q version %d answered twice with different content", j.ID, j.Version))
				}
				out.Duplicates++
				continue
			}
			seen[k] = len(out.Jobs)
			out.Jobs = append(out.Jobs, j)
		}
		if p.NextPageToken == "" {
			out.NextCursor = p.NextCursor
			if out.Duplicates > 0 {
				c.log.Debug().Int("duplicates", out.Duplicates).Int("pages", out.Pages).Msg("render feed repeated revisions; dropped")
			}
			return out, nil
		}
		tokens[pageToken] = true
		if tokens[p.NextPageToken] {
			return Changes{}, c.fail(op, malformed("page token loop after %d pages", out.Pages))
		}
		pageToken = p.NextPageToken
	}
}

// CreateJob implements API. A 201 answer is a new job; a 409 (or 200) answer carries the job
// that already has this external_ref (or, if the 409 has no job, it is looked up by
// external_ref). The Idempotency-Key header carries the external_ref too. After a lost answer
// and a retry, created is false although this call made the job: the job exists exactly once
// either way.
func (c *Client) CreateJob(ctx context.Context, spec JobSpec) (Job, bool, error) {
	const op = "create job"
	if spec.ExternalRef == "" {
		return Job{}, false, c.fail(op, fmt.Errorf("%w: external_ref is required", ErrRejected))
	}
	body, err := json.Marshal(wireSpec(spec))
	if err != nil {
		return Job{}, false, c.fail(op, err)
	}
	rep, err := c.do(ctx, request{
		op: op, method: http.MethodPost, path: "/api/v1/jobs", body: body,
		header: http.Header{"Idempotency-Key": {spec.ExternalRef}},
	}, http.StatusConflict)
	if err != nil {
		return Job{}, false, err
	}
	var (
		j       Job
		created bool
	)
	switch rep.status {
	case http.StatusCreated, http.StatusOK:
		j, err = decodeJob(rep.body)
		created = rep.status == http.StatusCreated
	case http.StatusConflict:
		var ok bool
		j, ok, err = decodeConflict(rep.body)
		if err == nil && !ok {
			if j, ok, err = c.FindJob(ctx, spec.ExternalRef); err != nil {
				return Job{}, false, err
			}
			if !ok {
				err = malformed("409 conflict, but no job has this external_ref")
			}
		}
	default:
		err = malformed("unexpected HTTP %d", rep.status)
	}
	if err == nil && j.ExternalRef != spec.ExternalRef {
		err = malformed("answered a job with another external_ref")
	}
	if err != nil {
		return Job{}, false, c.fail(op, err)
	}
	return j, created, nil
}

// FindJob looks a job up by its external reference (GET /api/v1/jobs?external_ref=); ok is
// false if there is none. It is not part of API: CreateJob already covers create-or-get.
func (c *Client) FindJob(ctx context.Context, externalRef string) (job Job, ok bool, err error) {
	const op = "find job"
	rep, err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/api/v1/jobs",
		query: url.Values{"external_ref": {externalRef}}})
	if err != nil {
		return Job{}, false, err
	}
	job, ok, err = decodeLookup(rep.body, externalRef)
	if err != nil {
		return Job{}, false, c.fail(op, err)
	}
	return job, ok, nil
}

// GetJob implements API.
func (c *Client) GetJob(ctx context.Context, id string) (Job, error) {
	const op = "get job"
	if id == "" {
		return Job{}, c.fail(op, fmt.Errorf("%w: job id is required", ErrRejected))
	}
	rep, err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/api/v1/jobs/" + url.PathEscape(id)})
	if err != nil {
		return Job{}, err
	}
	j, err := decodeJob(rep.body)
	if err == nil && j.ID != id {
		err = malformed("asked for job %q, answered job %q", id, j.ID)
	}
	if err != nil {
		return Job{}, c.fail(op, err)
	}
	return j, nil
}
