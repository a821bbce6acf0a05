package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"provgraph/graph"
	"provgraph/lineage"
	"provgraph/server"
)

func lineageCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var direction, kinds, format string
	var depth, limit int
	var agents, invalidated bool
	cmd := &cobra.Command{
		Use:   "lineage <id>",
		Short: "Print a record's lineage as an indented tree (or DOT), straight from Neo4j (configured like serve)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, bad := envConfig(getenv)
			bad = append(bad, cfg.Check()...)
			params := url.Values{"direction": {direction}, "depth": {strconv.Itoa(depth)}, "limit": {strconv.Itoa(limit)}, "include_agents": {strconv.FormatBool(agents)},
				"include_invalidated": {strconv.FormatBool(invalidated)}}
			if kinds != "" {
				params.Set("kinds", kinds)
			}
			q, err := lineage.ParseQuery(args[0], params, server.MaxLineageDepth)
			if err != nil {
				bad = append(bad, err.Error())
			}
			if format != "tree" && format != "dot" {
				bad = append(bad, fmt.Sprintf("--format=%q must be tree or dot", format))
			}
			if len(bad) > 0 {
				return configError(bad)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			db, err := openGraph(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close(context.Background())
			res, err := (&graph.Lineage{DB: db}).Walk(ctx, q)
			if err != nil {
				return err
			}
			if format == "dot" {
				return lineage.DOT(stdout, res)
			}
			_, err = io.WriteString(stdout, lineage.Tree(res))
			return err
		},
	}
	cmd.Flags().StringVar(&direction, "direction", "upstream", "upstream, downstream or both")
	cmd.Flags().IntVar(&depth, "depth", lineage.DefaultDepth, "hops to follow")
	cmd.Flags().IntVar(&limit, "limit", lineage.DefaultLimit, "nodes at most")
	cmd.Flags().StringVar(&kinds, "kinds", "", "kinds to show, e.g. Dataset,ModelRun")
	cmd.Flags().BoolVar(&agents, "agents", false, "show the people and organisations involved")
	cmd.Flags().BoolVar(&invalidated, "include-invalidated", false, "walk deleted records too (history, left out by default)")
	cmd.Flags().StringVar(&format, "format", "tree", "tree or dot")
	return cmd
}
