package console

import "strings"

// diffRow is one row of a side-by-side diff: a line of the left text, of
// the right text, or both. Line numbers are 1-based; 0 means no line.
type diffRow struct {
	Kind   string // same, del, add or change
	LeftN  int
	Left   string
	RightN int
	Right  string
}

// maxDiffLines caps the texts diffLines compares line by line (the
// longest common subsequence table is quadratic).
const maxDiffLines = 2000

// diffLines compares two texts line by line (longest common subsequence)
// and lays the result out side by side: removed lines facing added lines
// pair up as changes.
func diffLines(a, b string) []diffRow {
	left, right := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(left) > maxDiffLines || len(right) > maxDiffLines {
		return []diffRow{{Kind: "change", LeftN: 1, Left: "(too long to compare)", RightN: 1, Right: "(too long to compare)"}}
	}
	n, m := len(left), len(right)
	// lcs[i][j] is the length of the LCS of left[i:] and right[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if left[i] == right[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var rows []diffRow
	var dels, adds []diffRow
	flush := func() {
		k := 0
		for ; k < len(dels) && k < len(adds); k++ {
			rows = append(rows, diffRow{Kind: "change", LeftN: dels[k].LeftN, Left: dels[k].Left, RightN: adds[k].RightN, Right: adds[k].Right})
		}
		rows = append(rows, dels[k:]...)
		if k < len(adds) {
			rows = append(rows, adds[k:]...)
		}
		dels, adds = dels[:0], adds[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && left[i] == right[j]:
			flush()
			rows = append(rows, diffRow{Kind: "same", LeftN: i + 1, Left: left[i], RightN: j + 1, Right: right[j]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			adds = append(adds, diffRow{Kind: "add", RightN: j + 1, Right: right[j]})
			j++
		default:
			dels = append(dels, diffRow{Kind: "del", LeftN: i + 1, Left: left[i]})
			i++
		}
	}
	flush()
	return rows
}
