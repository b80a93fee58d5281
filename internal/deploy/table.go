package deploy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the requirements for `cloudtest plan`.
func WriteTable(w io.Writer, reqs []Requirement, waivers []Waiver) error {
	waived := map[string]string{}
	for _, wv := range waivers {
		waived[wv.Requirement] = fmt.Sprintf("waiver %s until %s", wv.ID, wv.Expires.Format("2006-01-02"))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tCATEGORY\tLAYER\tPARTY\tREQUIRES\tID")
	for _, r := range reqs {
		need := "a passing " + r.Category + " suite"
		switch r.Kind {
		case KindEvidence:
			need = strings.Join(r.EvidenceKinds, " or ")
		case KindLink:
			need = "an end-to-end suite across private and community"
		}
		if note, ok := waived[r.ID]; ok {
			need += " (" + note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dash(r.Component), dash(r.Category), dash(r.Layer), r.Party, need, r.ID)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
