// Package deploy turns the deployment block into the responsibility matrix
// of the industry guide: for every component, category and layer, who is
// responsible, which tests the institution must run and which evidence the
// vendor must hand over; and it evaluates that matrix against a run's
// results and verified evidence.
package deploy

import (
	"fmt"
	"sort"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Categories of tests the guide asks for.
var Categories = []string{"functional", "performance", "reliability", "security"}

// Parties that can be responsible for a cell.
const (
	Vendor      = "vendor"
	Institution = "institution"
	Joint       = "joint"
)

// Requirement kinds.
const (
	KindTest     = "test"     // a suite of the category must pass for the component
	KindEvidence = "evidence" // the vendor must hand over one of EvidenceKinds
	KindLink     = "link"     // a suite must test a private and a community component together
)

// Requirement is one thing that must hold for the system to be accepted.
type Requirement struct {
	ID        string `json:"id"`
	Component string `json:"component,omitempty"`
	Category  string `json:"category,omitempty"`
	// Layer is "" for requirements that hold for the component as a whole
	// (the institution's tests, the drill report).
	Layer string `json:"layer,omitempty"`
	Kind  string `json:"kind"`
	// EvidenceKinds: any one of them satisfies an evidence requirement.
	EvidenceKinds []string `json:"evidence_kinds,omitempty"`
	Party         string   `json:"party"`
	Description   string   `json:"description"`
	// Source is "guide" for what the guide asks, or the file:line of a
	// user's requirement block.
	Source string `json:"source"`
}

// Matrix computes the requirements of a deployment, in a stable order:
// component by component as declared, then category, then layer.
func Matrix(dep *config.Deployment) []Requirement {
	if dep == nil {
		return nil
	}
	var out []Requirement
	for _, c := range dep.Components {
		out = append(out, component(c)...)
	}
	if dep.Mode == "hybrid" {
		out = append(out, Requirement{
			ID: "hybrid/links", Kind: KindLink, Party: Institution, Source: "guide",
			Description: "One overall test plan: the links between the private and the community components are tested end to end (a suite whose components name one of each).",
		})
	}
	return out
}

func component(c *config.Component) []Requirement {
	var out []Requirement
	add := func(r Requirement) {
		r.Component, r.Source = c.Name, "guide"
		out = append(out, r)
	}
	for _, cat := range Categories {
		party, test := partyAndTest(c.Mode, cat)
		if test {
			add(Requirement{
				ID: fmt.Sprintf("%s/%s/test", c.Name, cat), Category: cat, Kind: KindTest, Party: party,
				Description: testDescription(c.Mode, cat),
			})
		}
		for _, layer := range c.Layers {
			cellParty := party
			if c.Mode == "community" && layer != "saas" {
				cellParty = Vendor
			}
			for _, ev := range evidenceFor(c.Mode, cat) {
				add(Requirement{
					ID:       fmt.Sprintf("%s/%s/%s/evidence:%s", c.Name, cat, layer, ev.id),
					Category: cat, Layer: layer, Kind: KindEvidence, EvidenceKinds: ev.kinds, Party: cellParty,
					Description: ev.what,
				})
			}
		}
	}
	add(Requirement{
		ID: c.Name + "/security/drill", Category: "security", Kind: KindEvidence, EvidenceKinds: []string{"drill_report"},
		Party: Institution, Description: "A real-world attack-defense drill by a qualified security team, with its report.",
	})
	return out
}

// partyAndTest says who is responsible for a category and whether the
// institution must run tests of it itself.
func partyAndTest(mode, category string) (party string, test bool) {
	if mode == "private" {
		return Joint, true
	}
	// Community: the tenant tests its own business; the platform's
	// reliability is shown by the vendor's reports.
	if category == "reliability" {
		return Vendor, false
	}
	return Institution, true
}

func testDescription(mode, category string) string {
	switch {
	case mode == "private":
		return fmt.Sprintf("The institution runs the %s tests jointly with the vendor and accepts the results.", category)
	case category == "security":
		return "The institution runs business security tests aimed at the new attack surface (virtualization, containers)."
	}
	return fmt.Sprintf("The institution tests its own business: %s.", category)
}

type evidenceNeed struct {
	id    string
	kinds []string
	what  string
}

func evidenceFor(mode, category string) []evidenceNeed {
	if mode == "private" {
		out := []evidenceNeed{
			{"design_doc", []string{"design_doc"}, "Design documents of the systems, networks and software of this layer."},
			{"test_plan", []string{"test_plan"}, "An acceptance test plan: method, people, environment, criteria, documents."},
		}
		if category == "security" {
			out = append(out,
				evidenceNeed{"hardening_guide", []string{"hardening_guide"}, "A hardening document."},
				evidenceNeed{"test_report", []string{"test_report"}, "A security test report."},
				evidenceNeed{"product_manual", []string{"product_manual"}, "The security product's manual."},
				evidenceNeed{"best_practice_guide", []string{"best_practice_guide"}, "A best-practice guide for the security product."},
			)
		}
		return out
	}
	out := []evidenceNeed{{"certification", []string{"certification", "test_report"},
		fmt.Sprintf("A certification or test report of the vendor's %s for this layer.", category)}}
	if category == "security" {
		out = append(out,
			evidenceNeed{"test_report", []string{"test_report"}, "A security test report for the applications, systems and network bought."},
			evidenceNeed{"pentest_report", []string{"pentest_report"}, "A penetration test report for the applications, systems and network bought."},
		)
	}
	return out
}

// Components of a mode, sorted.
func componentsOf(dep *config.Deployment, mode string) []string {
	var out []string
	for _, c := range dep.Components {
		if c.Mode == mode {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}
