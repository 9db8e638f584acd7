import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { TokenDialog } from "./TokenDialog";

describe("TokenDialog", () => {
  it("starts in the token field and keeps focus there when the page re-renders", async () => {
    const onSubmit = vi.fn();
    const first = vi.fn();
    const { rerender } = render(<TokenDialog message="Reads need a viewer token." onSubmit={onSubmit} onCancel={first} />);
    const field = screen.getByLabelText("API token");
    expect(field).toHaveFocus();
    await userEvent.type(field, "ab");
    const latest = vi.fn();
    rerender(<TokenDialog message="Reads need a viewer token." onSubmit={onSubmit} onCancel={latest} />); // a new inline callback
    expect(field).toHaveFocus();
    await userEvent.type(field, "c ");
    await userEvent.keyboard("{Enter}");
    expect(onSubmit).toHaveBeenCalledWith("abc");
    await userEvent.keyboard("{Escape}");
    expect(latest).toHaveBeenCalledTimes(1);
    expect(first).not.toHaveBeenCalled();
  });

  it("leaves focus where the user moved it when the page re-renders", async () => {
    const props = { message: "", onSubmit: vi.fn() };
    const { rerender } = render(<TokenDialog {...props} onCancel={() => undefined} />);
    await userEvent.tab();
    const cancel = screen.getByRole("button", { name: "Cancel" });
    expect(cancel).toHaveFocus();
    rerender(<TokenDialog {...props} onCancel={() => undefined} />);
    expect(cancel).toHaveFocus();
  });

  it("cannot be submitted empty", () => {
    render(<TokenDialog message="" onSubmit={vi.fn()} onCancel={vi.fn()} />);
    expect(screen.getByRole("button", { name: "Save and retry" })).toBeDisabled();
    expect(screen.getByRole("dialog", { name: "Access token needed" })).toHaveTextContent("editor or admin token");
  });
});
