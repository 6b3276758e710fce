r"""Report figures. Each function takes a tidy DataFrame and a matplotlib ``ax``, draws, returns ``ax``;
nothing here computes a measurement."""
import numpy as np
import seaborn as sns


def ter_gap_vs_steps(df, ax, *, rate=None):
    r"""ter_gap against N, one line per L (they should collapse); ``rate`` (N, value) overlays Feng's."""
    d = df[np.isfinite(df["ter_gap"]) & (df["ter_gap"] > 0)]
    sns.lineplot(data=d, x="steps", y="ter_gap", hue="length", marker="o", palette="viridis", ax=ax, errorbar=None)
    if rate is not None:
        ax.plot(*rate, "k--", label="Feng rate (fitted constant)")
    ax.set(xscale="log", yscale="log", xlabel="sampling steps N", ylabel="TER gap (nats/token)")
    ax.legend(title="L", fontsize="small")
    return ax


def ser_vs_steps_per_length(df, ax):
    r"""SER against N/L, one line per L (they should collapse), with the closed forms dashed."""
    d = df.assign(steps_per_length=df["steps"] / df["length"])
    sns.lineplot(data=d, x="steps_per_length", y="ser", hue="length", marker="o", palette="viridis", ax=ax,
                 errorbar=None)
    closed = d.dropna(subset=["ser_closed_form"])
    for L, g in closed.groupby("length"):
        ax.plot(g["steps_per_length"], g["ser_closed_form"], "k--", lw=0.8, alpha=0.7)
    ax.set(xscale="log", xlabel="N / L", ylabel="SER", ylim=(-0.02, 1.02))
    ax.legend(title="L (dashed: closed form)", fontsize="small")
    return ax


def ser_heatmap(df, ax, *, n_star_line=None):
    r"""SER over (L, N/L); ``n_star_line`` (L, N*/L) draws the predicted threshold."""
    d = df.assign(steps_per_length=(df["steps"] / df["length"]).round(4))
    grid = d.pivot_table(index="length", columns="steps_per_length", values="ser", aggfunc="mean")
    sns.heatmap(grid, ax=ax, cmap="magma_r", vmin=0, vmax=1, annot=True, fmt=".2f", cbar_kws={"label": "SER"})
    if n_star_line is not None:
        cols = np.log(grid.columns.values.astype(float))
        Ls, ratio = n_star_line
        x = np.interp(np.log(ratio), cols, np.arange(len(cols))) + 0.5
        y = [list(grid.index).index(L) + 0.5 for L in Ls]
        ax.plot(x, y, "c-o", lw=2, label="predicted N*(L, 1/2)")
        ax.legend(loc="upper left", fontsize="small")
    ax.set(xlabel="N / L", ylabel="L")
    return ax


def n_star_vs_length(nstar, ax):
    r"""N*(L) on log-log axes with its interval, one line per (language, schedule, statistic, target);
    censored points are left out of the lines (the verdict rows count them)."""
    d = nstar[(nstar["censored"] == "") & np.isfinite(nstar["n_star"]) & np.isfinite(nstar["n_star_high"])]
    for (lang, sched, stat, t), g in d.groupby(["language", "schedule", "statistic", "target"]):
        g = g.sort_values("length")
        err = [g["n_star"] - g["n_star_low"], g["n_star_high"] - g["n_star"]]
        ax.errorbar(g["length"], g["n_star"], yerr=err, marker="o", capsize=2,
                    label=f"{lang}, {sched}, {stat} <= {t:g}")
    ax.set(xscale="log", yscale="log", xlabel="L", ylabel="N*(L)")
    if d.empty:  # say so on the figure instead of an empty legend
        ax.text(0.5, 0.5, "no uncensored N*(L) in these data", transform=ax.transAxes, ha="center")
    else:
        ax.legend(fontsize="xx-small")
    return ax


def kl_vs_bound(df, ax):
    r"""Measured E_M KL(q || p_M) against the Li & Cai bound (the diagonal is equality)."""
    d = df.dropna(subset=["li_cai_bound", "kl_q_pm"])
    sns.scatterplot(data=d, x="li_cai_bound", y="kl_q_pm", hue="language", style="length", ax=ax)
    top = float(max(d["li_cai_bound"].max(), d["kl_q_pm"].max(), 1e-3)) if len(d) else 1.0
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="KL = bound")
    ax.set(xlabel="Li & Cai bound (nats)", ylabel="measured E_M KL(q || p_M) (nats)")
    ax.legend(fontsize="x-small")
    return ax


def learned_vs_exact(df, ax, *, feng=None):
    r"""In-support TER gap (solid) and SER (dashed, right axis) against N for each denoiser;
    ``feng`` (N, bound, bound + eps_learning) overlays the Feng bound without and with the learning error."""
    sns.lineplot(data=df, x="steps", y="ter_gap_in_support", hue="denoiser", marker="o", ax=ax, errorbar=None)
    if feng is not None:
        N, bound, with_eps = feng
        ax.plot(N, bound, "k:", label="Feng bound (unit constants)")
        ax.plot(N, with_eps, "k--", label="Feng bound + eps_learning")
    ax.set(xscale="log", yscale="log", xlabel="sampling steps N", ylabel="TER gap over in-support samples")
    ax.legend(fontsize="x-small", loc="lower left")
    twin = ax.twinx()
    for name, g in df.groupby("denoiser"):
        twin.plot(g["steps"], g["ser"], "--", marker="s", alpha=0.6, label=f"SER {name}")
    twin.set(ylabel="SER (dashed)", ylim=(-0.02, 1.02))
    twin.legend(fontsize="x-small", loc="upper right")
    return ax


def learning_curve(history, ax):
    r"""eps_learning (mean and max KL over masked held-out positions) against training time."""
    ax.plot(history["seconds"] / 60, history["eps_learning"], "o-", label="mean KL (eps_learning)")
    ax.plot(history["seconds"] / 60, history["eps_learning_max"], "s--", alpha=0.6, label="max KL")
    ax.axhline(0.05, color="k", lw=0.8, ls=":", label="0.05 nats")
    ax.set(yscale="log", xlabel="training time (minutes)", ylabel="KL(q || p_theta) per masked token (nats)")
    ax.legend(fontsize="small")
    return ax
