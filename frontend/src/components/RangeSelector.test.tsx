import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { RangeSelector } from "./RangeSelector";

const NOW = Date.UTC(2026, 11, 3, 12) / 1000;

describe("RangeSelector", () => {
  it("switches presets and marks the pressed one", async () => {
    const onChange = vi.fn();
    render(<RangeSelector now={NOW} range="24h" since={null} until={null} onChange={onChange} />);
    expect(screen.getByRole("button", { name: "24 h" })).toHaveAttribute("aria-pressed", "true");
    await userEvent.click(screen.getByRole("button", { name: "7 d" }));
    expect(onChange).toHaveBeenCalledWith("7d", null, null);
  });

  it("applies a custom range and refuses one that ends before it starts", async () => {
    const onChange = vi.fn();
    render(<RangeSelector now={NOW} range="24h" since={null} until={null} onChange={onChange} />);
    await userEvent.click(screen.getByRole("button", { name: "Custom" }));
    const from = screen.getByLabelText("From (UTC)");
    const to = screen.getByLabelText("To (UTC)");
    fireEvent.change(from, { target: { value: "2026-12-01T00:00" } });
    fireEvent.change(to, { target: { value: "2026-11-30T00:00" } });
    expect(screen.getByRole("button", { name: "Apply" })).toBeDisabled();
    expect(screen.getByText(/must be before/)).toBeInTheDocument();
    fireEvent.change(to, { target: { value: "2026-12-02T06:00" } });
    await userEvent.click(screen.getByRole("button", { name: "Apply" }));
    expect(onChange).toHaveBeenCalledWith("custom", Date.UTC(2026, 11, 1) / 1000, Date.UTC(2026, 11, 2, 6) / 1000);
  });
});
