package console

import (
	"net/http"
	"sort"

	"github.com/iotdm/iotdm"
)

type stacksData struct {
	Stacks  []iotdm.StackSummary
	All     bool
	Deleted int
}

func (c *console) stacks(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Stacks == nil {
		c.serviceError(w, r, sess, "list stacks", unavailable("CloudFormation stacks"))
		return
	}
	d := stacksData{All: r.URL.Query().Get("all") != ""}
	token := ""
	for range 50 {
		out, err := c.deps.Stacks.ListStacks(r.Context(), &iotdm.ListStacksInput{NextToken: token})
		if err != nil {
			c.serviceError(w, r, sess, "list stacks", err)
			return
		}
		for _, s := range out.StackSummaries {
			if s.StackStatus == "DELETE_COMPLETE" && !d.All {
				d.Deleted++
				continue
			}
			d.Stacks = append(d.Stacks, s)
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	sort.SliceStable(d.Stacks, func(i, j int) bool { return d.Stacks[i].StackName < d.Stacks[j].StackName })
	c.render(w, r, sess, http.StatusOK, "stacks", "Stacks", "stacks", d)
}

type stackData struct {
	Stack     iotdm.Stack
	Resources []iotdm.StackResourceSummary
	Events    []iotdm.StackEvent
	MoreEvent bool
	Template  string
	Err       string
}

// maxStackEvents caps the events the stack page shows.
const maxStackEvents = 200

func (c *console) stack(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if c.deps.Stacks == nil {
		c.serviceError(w, r, sess, "describe stack", unavailable("CloudFormation stacks"))
		return
	}
	ctx := r.Context()
	out, err := c.deps.Stacks.DescribeStacks(ctx, &iotdm.DescribeStacksInput{StackName: name})
	if err != nil {
		c.serviceError(w, r, sess, "describe stack", err)
		return
	}
	if len(out.Stacks) == 0 {
		c.serviceError(w, r, sess, "describe stack", iotdm.StackDoesNotExist(name))
		return
	}
	d := stackData{Stack: out.Stacks[0]}
	id := d.Stack.StackId
	token := ""
	for range 50 {
		res, err := c.deps.Stacks.ListStackResources(ctx, &iotdm.ListStackResourcesInput{StackName: id, NextToken: token})
		if err != nil {
			_, d.Err = c.describe("list stack resources", err)
			break
		}
		d.Resources = append(d.Resources, res.StackResourceSummaries...)
		if token = res.NextToken; token == "" {
			break
		}
	}
	token = ""
	for len(d.Events) < maxStackEvents {
		ev, err := c.deps.Stacks.DescribeStackEvents(ctx, &iotdm.DescribeStackEventsInput{StackName: id, NextToken: token})
		if err != nil {
			_, d.Err = c.describe("describe stack events", err)
			break
		}
		d.Events = append(d.Events, ev.StackEvents...)
		if token = ev.NextToken; token == "" {
			break
		}
	}
	if len(d.Events) > maxStackEvents {
		d.Events, d.MoreEvent = d.Events[:maxStackEvents], true
	}
	if t, err := c.deps.Stacks.GetTemplate(ctx, &iotdm.GetTemplateInput{StackName: id}); err == nil {
		d.Template = t.TemplateBody
	}
	c.render(w, r, sess, http.StatusOK, "stack", d.Stack.StackName, "stacks", d)
}
