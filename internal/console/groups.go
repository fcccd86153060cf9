package console

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
)

// maxGroups caps the groups the groups page describes one by one.
const maxGroups = 2000

type groupNode struct {
	Name        string
	Description string
	Dynamic     bool
	Query       string
	Status      string
	Count       countValue
	Children    []*groupNode
}

type groupsData struct {
	Tree      []*groupNode
	Dynamic   []*groupNode
	Truncated bool
	Err       string
	Seq       uint64
	Stream    string // the event stream URL, with the dynamic groups whose counts it updates
}

func (c *console) groups(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Registry == nil {
		c.serviceError(w, r, sess, "list thing groups", unavailable("the registry"))
		return
	}
	ctx := r.Context()
	d := groupsData{}
	if c.deps.Store != nil {
		d.Seq, _ = c.deps.Store.LastSeq(ctx)
	}
	names, truncated, err := c.groupNames(ctx)
	if err != nil {
		c.serviceError(w, r, sess, "list thing groups", err)
		return
	}
	d.Truncated = truncated
	nodes := map[string]*groupNode{}
	parents := map[string]string{}
	countAll := len(names) <= 500
	for _, name := range names {
		g, err := c.deps.Registry.DescribeThingGroup(ctx, &iotdm.DescribeThingGroupInput{ThingGroupName: name})
		if err != nil {
			continue // deleted meanwhile
		}
		n := &groupNode{Name: name, Description: g.ThingGroupProperties.ThingGroupDescription, Dynamic: g.QueryString != "",
			Query: g.QueryString, Status: g.Status}
		if n.Dynamic || countAll {
			n.Count = c.membersCount(ctx, name, g.QueryString)
		}
		nodes[name] = n
		parents[name] = g.ThingGroupMetadata.ParentGroupName
	}
	for _, name := range names {
		n := nodes[name]
		if n == nil {
			continue
		}
		if n.Dynamic {
			d.Dynamic = append(d.Dynamic, n)
			continue
		}
		if p := nodes[parents[name]]; p != nil {
			p.Children = append(p.Children, n)
		} else {
			d.Tree = append(d.Tree, n)
		}
	}
	v := url.Values{"since": {strconv.FormatUint(d.Seq, 10)}}
	for _, g := range d.Dynamic {
		v.Add("group", g.Name)
	}
	d.Stream = c.path("events") + "?" + v.Encode()
	c.render(w, r, sess, http.StatusOK, "groups", "Thing groups", "groups", d)
}

// groupNames lists every thing group's name, sorted, up to maxGroups.
func (c *console) groupNames(ctx context.Context) ([]string, bool, error) {
	var names []string
	token := ""
	for len(names) < maxGroups {
		out, err := c.deps.Registry.ListThingGroups(ctx, &iotdm.ListThingGroupsInput{NextToken: token, MaxResults: 250})
		if err != nil {
			return nil, false, err
		}
		for _, g := range out.ThingGroups {
			names = append(names, g.GroupName)
		}
		if token = out.NextToken; token == "" {
			sort.Strings(names)
			return names, false, nil
		}
	}
	sort.Strings(names)
	return names[:maxGroups], true, nil
}

// membersCount counts a group's members with the fleet index: a dynamic
// group's are the things its query matches; a static group's name its
// thingGroupNames.
func (c *console) membersCount(ctx context.Context, name, query string) countValue {
	if query == "" {
		query = "thingGroupNames:" + quoteTerm(name)
	}
	return c.count(ctx, query)
}

func (c *console) groupMemberCount(ctx context.Context, name string) (int, error) {
	g, err := c.deps.Registry.DescribeThingGroup(ctx, &iotdm.DescribeThingGroupInput{ThingGroupName: name})
	if err != nil {
		return 0, err
	}
	q := g.QueryString
	if q == "" {
		q = "thingGroupNames:" + quoteTerm(name)
	}
	return c.countThings(ctx, q)
}

// quoteTerm quotes a term of the fleet query language.
func quoteTerm(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

type groupData struct {
	Group       *iotdm.DescribeThingGroupOutput
	Attributes  []kv
	Children    []string
	Members     []string
	Next        string
	Page        int
	Count       countValue
	Policies    []iotdm.Policy
	PoliciesErr string
	Seq         uint64
}

func (c *console) group(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if c.deps.Registry == nil {
		c.serviceError(w, r, sess, "describe thing group", unavailable("the registry"))
		return
	}
	ctx := r.Context()
	g, err := c.deps.Registry.DescribeThingGroup(ctx, &iotdm.DescribeThingGroupInput{ThingGroupName: name})
	if err != nil {
		c.serviceError(w, r, sess, "describe thing group", err)
		return
	}
	d := groupData{Group: g, Page: 1}
	if c.deps.Store != nil {
		d.Seq, _ = c.deps.Store.LastSeq(ctx)
	}
	if ap := g.ThingGroupProperties.AttributePayload; ap != nil {
		d.Attributes = sortedKV(ap.Attributes)
	}
	if out, err := c.deps.Registry.ListThingGroups(ctx, &iotdm.ListThingGroupsInput{ParentGroup: name, MaxResults: 250}); err == nil {
		for _, ch := range out.ThingGroups {
			d.Children = append(d.Children, ch.GroupName)
		}
	}
	token := r.URL.Query().Get("token")
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 && token != "" {
		d.Page = n
	}
	members, err := c.deps.Registry.ListThingsInThingGroup(ctx, &iotdm.ListThingsInThingGroupInput{ThingGroupName: name, NextToken: token, MaxResults: 100})
	if err != nil {
		c.serviceError(w, r, sess, "list things in group", err)
		return
	}
	d.Members, d.Next = members.Things, members.NextToken
	d.Count = c.membersCount(ctx, name, g.QueryString)
	if c.deps.Policies != nil && g.QueryString == "" {
		out, err := c.deps.Policies.ListAttachedPolicies(ctx, &iotdm.ListAttachedPoliciesInput{Target: g.ThingGroupARN, PageSize: 100})
		if err != nil {
			_, d.PoliciesErr = c.describe("list attached policies", err)
		} else {
			d.Policies = out.Policies
		}
	}
	c.render(w, r, sess, http.StatusOK, "group", name, "groups", d)
}
