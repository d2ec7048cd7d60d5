package compose

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/graph"
	"github.com/roomtape/roomtape/compose/internal/avlog"
)

// runner runs one graph.Plan: a buffer source per plan input, one buffer
// sink.
type runner struct {
	plan graph.Plan
	fg   *astiav.FilterGraph
	srcs []*astiav.BuffersrcFilterContext
	sink *astiav.BuffersinkFilterContext
	out  *astiav.Frame
	logs avlog.Set
}

func newRunner(plan graph.Plan, log *slog.Logger) (_ *runner, err error) {
	r := &runner{plan: plan, fg: astiav.AllocFilterGraph(), out: astiav.AllocFrame()}
	r.logs.Add(r.fg, log)
	// One thread: decoding and encoding run in goroutines of their own
	// beside the graph, and a machine composing several rooms is better
	// served by one thread per graph than by slice threads contending.
	r.fg.SetThreadCount(1)
	defer func() {
		if err != nil {
			r.free()
		}
	}()
	buffer := astiav.FindFilterByName("buffer")
	sink, err := r.fg.NewBuffersinkFilterContext(astiav.FindFilterByName("buffersink"), "sink")
	if err != nil {
		return nil, fmt.Errorf("compose: creating buffer sink: %w", err)
	}
	r.sink = sink
	var outputs *astiav.FilterInOut
	defer func() {
		if outputs != nil {
			outputs.Free()
		}
	}()
	for _, in := range plan.Inputs {
		src, err := r.fg.NewBuffersrcFilterContext(buffer, "in_"+in.Label)
		if err != nil {
			return nil, fmt.Errorf("compose: creating buffer source %s: %w", in.Label, err)
		}
		par := astiav.AllocBuffersrcFilterContextParameters()
		par.SetWidth(in.Width)
		par.SetHeight(in.Height)
		par.SetPixelFormat(astiav.FindPixelFormatByName(in.PixelFormat))
		par.SetTimeBase(astiav.NewRational(1, plan.FPS))
		par.SetSampleAspectRatio(astiav.NewRational(1, 1))
		err = src.SetParameters(par)
		par.Free()
		if err != nil {
			return nil, fmt.Errorf("compose: buffer source %s: %w", in.Label, err)
		}
		if err := src.Initialize(nil); err != nil {
			return nil, fmt.Errorf("compose: buffer source %s: %w", in.Label, err)
		}
		r.srcs = append(r.srcs, src)
		o := astiav.AllocFilterInOut()
		o.SetName(in.Label)
		o.SetFilterContext(src.FilterContext())
		o.SetPadIdx(0)
		o.SetNext(outputs)
		outputs = o
	}
	inputs := astiav.AllocFilterInOut()
	defer inputs.Free()
	inputs.SetName(graph.Output)
	inputs.SetFilterContext(sink.FilterContext())
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	if err := r.fg.Parse(plan.Filter, inputs, outputs); err != nil {
		return nil, fmt.Errorf("compose: parsing filter graph %q: %w", plan.Filter, err)
	}
	if err := r.fg.Configure(); err != nil {
		return nil, fmt.Errorf("compose: configuring filter graph %q: %w", plan.Filter, err)
	}
	return r, nil
}

// push sends one frame to every input (frames[i] for plan.Inputs[i]),
// keeping the caller's reference.
func (r *runner) push(frames []*astiav.Frame) error {
	for i, f := range frames {
		if err := r.srcs[i].AddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
			return fmt.Errorf("compose: feeding %s: %w", r.plan.Inputs[i].Label, err)
		}
	}
	return nil
}

// drain hands every frame the graph has ready to fn; with eof it first
// closes the inputs and drains to the end.
func (r *runner) drain(eof bool, fn func(*astiav.Frame) error) error {
	if eof {
		for i, src := range r.srcs {
			if err := src.AddFrame(nil, astiav.NewBuffersrcFlags()); err != nil {
				return fmt.Errorf("compose: closing %s: %w", r.plan.Inputs[i].Label, err)
			}
		}
	}
	for {
		err := r.sink.GetFrame(r.out, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compose: filtering: %w", err)
		}
		err = func() error {
			defer r.out.Unref()
			return fn(r.out)
		}()
		if err != nil {
			return err
		}
	}
}

func (r *runner) free() {
	if r == nil {
		return
	}
	r.fg.Free()
	r.out.Free()
	r.logs.Release()
}
